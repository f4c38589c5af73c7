// sip-core public surface.
export class SipMessage {}
export function parseMessage(_src: string, _off: number, _len: number, _msg: SipMessage): number { return -1; }
