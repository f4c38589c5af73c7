// The message-layer device bundle (dist/device/doorsip-core.js, held to the size budget); the firmware, dist/device/doorsip.js, is firmware/device.ts.
export {
  SipMessage, parseMessage, validateMessage, SipWriter, writeResponseHead, writeMessage, statelessToTag,
  errorReason, errorStatus, DEFAULT_LIMITS,
} from "../sip-core/index.ts";
