/**
 * OpenAI's `response_format` as a grammar: { type: 'text' } (no constraint),
 * { type: 'json_object' } (any JSON object), and
 * { type: 'json_schema', json_schema: { name, description?, schema, strict? } }.
 * The schema is always enforced, strict or not.
 */
import { WasmllmError } from '../errors.js';
import { jsonSchemaToGrammar } from './json-schema.js';

const JSON_SCHEMA_FIELDS = new Set(['name', 'description', 'schema', 'strict']);

/**
 * @param {unknown} format a response_format value
 * @param {{ whitespace?: 'flexible' | 'none' }} [options] as for jsonSchemaToGrammar
 * @returns {string | null} GBNF text, or null for plain text
 * @throws {WasmllmError} ERR_BAD_ARG naming the field or schema keyword at fault
 */
export function responseFormatToGrammar(format, options) {
  if (typeof format !== 'object' || format === null || Array.isArray(format)) {
    throw new WasmllmError('ERR_BAD_ARG', 'response_format must be an object');
  }
  const { type, json_schema: spec, ...rest } = /** @type {Record<string, any>} */ (format);
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) throw new WasmllmError('ERR_BAD_ARG', `response_format.${extra} is not supported`);
  if (type === 'text') return null;
  if (type === 'json_object') return jsonSchemaToGrammar({ type: 'object' }, options);
  if (type !== 'json_schema') {
    throw new WasmllmError('ERR_BAD_ARG', `response_format.type ${JSON.stringify(type)} is not supported (text, json_object, json_schema are)`);
  }
  if (typeof spec !== 'object' || spec === null) throw new WasmllmError('ERR_BAD_ARG', 'response_format.json_schema must be an object');
  for (const key of Object.keys(spec)) {
    if (!JSON_SCHEMA_FIELDS.has(key)) throw new WasmllmError('ERR_BAD_ARG', `response_format.json_schema.${key} is not supported`);
  }
  if (!('schema' in spec)) throw new WasmllmError('ERR_BAD_ARG', 'response_format.json_schema.schema is missing');
  return jsonSchemaToGrammar(spec.schema, options);
}
