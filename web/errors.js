/**
 * Every error the runtime throws on purpose is a WasmllmError with a stable
 * `code`, so callers can branch on it without parsing messages.
 */
export class WasmllmError extends Error {
  /**
   * @param {string} code e.g. 'ERR_TRUNCATED', 'ERR_CONTEXT_FULL'
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = 'WasmllmError';
    this.code = code;
  }
}

/** Codes of src/error.h's wl_status, index = numeric value. */
export const C_STATUS_CODES = [
  'OK', 'ERR_TRUNCATED', 'ERR_BAD_MAGIC', 'ERR_BAD_VERSION', 'ERR_BAD_VALUE',
  'ERR_UNKNOWN_TYPE', 'ERR_BAD_TENSOR', 'ERR_UNSUPPORTED_ARCH', 'ERR_MISSING_KEY',
  'ERR_MISSING_TENSOR', 'ERR_OOM', 'ERR_CONTEXT_FULL', 'ERR_BAD_ARG', 'ERR_SHARDS', 'ERR_BAD_GRAMMAR',
];

/** @param {number} status */
export function codeFromStatus(status) {
  return C_STATUS_CODES[status] ?? 'ERR_UNKNOWN';
}
