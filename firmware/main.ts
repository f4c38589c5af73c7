// Door-phone firmware entry: the device bundle's exports (the application itself lands with the firmware issue).
export {
  SipMessage, parseMessage, validateMessage, SipWriter, writeResponseHead, writeMessage, statelessToTag,
  errorReason, errorStatus, DEFAULT_LIMITS,
} from "../sip-core/index.ts";
