// sip-core public surface: the pure protocol stack (no I/O, no platform API).
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./scan.ts";
export * from "./params.ts";
export * from "./uri.ts";
export * from "./via.ts";
export * from "./nameaddr.ts";
export * from "./message.ts";
export * from "./headers.ts";
export * from "./auth-header.ts";
export * from "./writer.ts";
export * from "./transaction.ts";
export * from "./timerheap.ts";
export * from "./transactions.ts";
export * from "./transport.ts";
