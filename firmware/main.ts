// Door-phone firmware entry: the device bundle's exports (grows into the application in issue 6).
export { SipMessage, parseMessage } from "../sip-core/index.ts";
