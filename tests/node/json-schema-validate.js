/**
 * A real JSON Schema validator for the tests: ajv (+ ajv-formats) from
 * tests/ref, draft 2020-12 for schemas that use prefixItems, draft-07
 * otherwise (which still has array-form items and additionalItems).
 */
import path from 'node:path';
import { createRequire } from 'node:module';
import { REF_MODULES } from './tokenizer-helpers.js';

const require = createRequire(path.join(REF_MODULES, '..', 'package.json'));

/**
 * @param {unknown} schema `{ type: 'json_object' }` is validated as any object
 * @returns {Promise<((value: unknown) => boolean) & { errors?: unknown }>}
 */
export async function loadValidator(schema) {
  const draft2020 = JSON.stringify(schema).includes('"prefixItems"');
  const Ajv = draft2020 ? require('ajv/dist/2020').default : require('ajv').default;
  const addFormats = require('ajv-formats').default ?? require('ajv-formats');
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  const s = /** @type {any} */ (schema);
  return ajv.compile(s?.type === 'json_object' ? { type: 'object' } : s);
}
