// The message-layer device bundle (dist/device/doorsip.js, held to the size budget); the whole firmware is firmware/device.ts.
export {
  SipMessage, parseMessage, validateMessage, SipWriter, writeResponseHead, writeMessage, statelessToTag,
  errorReason, errorStatus, DEFAULT_LIMITS,
} from "../sip-core/index.ts";
