/**
 * KV cache types: the names loadModel's `kvType` and the CLI's `--kv-type`
 * accept, and the GGUF type ids wl_context_new takes. One validation for the
 * API and every command, so they accept and refuse the same values.
 */
import { WasmllmError } from './errors.js';

/** Name -> GGUF type id (src/types.h), as llama.cpp's --cache-type-k/-v name them. */
export const KV_TYPES = Object.freeze({ f16: 1, q8_0: 8 });

/** The default: llama.cpp's own default cache type. */
export const DEFAULT_KV_TYPE = 'f16';

/**
 * The canonical name of a kvType value (case-insensitive; undefined is the default).
 * @param {unknown} value
 * @param {string} [what] how the message names the setting, e.g. '--kv-type'
 * @returns {'f16' | 'q8_0'}
 * @throws {WasmllmError} ERR_BAD_ARG naming the value and the accepted ones
 */
export function parseKvType(value, what = 'kvType') {
  if (value === undefined) return DEFAULT_KV_TYPE;
  const name = typeof value === 'string' ? value.toLowerCase() : undefined;
  if (name === undefined || !Object.hasOwn(KV_TYPES, name)) {
    const shown = typeof value === 'string' ? `'${value}'` : String(value);
    throw new WasmllmError('ERR_BAD_ARG', `${what} must be one of ${Object.keys(KV_TYPES).map((k) => `'${k}'`).join(', ')}, got ${shown}`);
  }
  return /** @type {'f16' | 'q8_0'} */ (name);
}

/**
 * The name of a GGUF type id that wl_context_kv_type reports.
 * @param {number} id
 * @returns {string}
 */
export function kvTypeName(id) {
  return Object.keys(KV_TYPES).find((k) => KV_TYPES[k] === id) ?? `type ${id}`;
}
