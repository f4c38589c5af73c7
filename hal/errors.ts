// HAL error codes: what a platform failure becomes before it reaches firmware or sip-core (stable numbers).
export const HAL_OK = 0;
export const HAL_ERR_CLOSED = -1;
export const HAL_ERR_ADDRESS_IN_USE = -2;
export const HAL_ERR_UNREACHABLE = -3;
export const HAL_ERR_TOO_LARGE = -4;
export const HAL_ERR_REFUSED = -5;
export const HAL_ERR_RESET = -6;
export const HAL_ERR_TIMEOUT = -7;
export const HAL_ERR_NO_RESOURCES = -8;
export const HAL_ERR_INVALID = -9;
export const HAL_ERR_PLATFORM = -10;
export const HAL_ERR_UNSUPPORTED = -11;

const NAMES = ["ok", "closed", "address in use", "unreachable", "too large", "refused", "reset", "timeout", "no resources", "invalid argument", "platform error", "unsupported"];

/** Short text for a HAL error code. */
export function halErrorText(code: number): string {
  return code <= 0 && -code < NAMES.length ? NAMES[-code] : "unknown";
}
