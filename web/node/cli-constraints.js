/**
 * The CLI's output constraints, shared by run/complete and chat:
 * --grammar FILE (GBNF), --json-schema FILE (a JSON Schema), --json-object
 * (any JSON object). At most one of them.
 */
import fs from 'node:fs';

/** Flag definitions for node:util parseArgs. */
export const CONSTRAINT_OPTIONS = {
  grammar: { type: 'string' },
  'json-schema': { type: 'string' },
  'json-object': { type: 'boolean' },
};

/** Usage lines for the flags, descriptions starting at column `col`. */
export function constraintUsage(col) {
  return [
    ['--grammar FILE', 'only generate text this GBNF grammar (llama.cpp syntax) allows'],
    ['--json-schema FILE', 'only generate JSON that follows this JSON Schema'],
    ['--json-object', 'only generate a JSON object'],
  ].map(([flag, text]) => `      ${flag}`.padEnd(col) + text).join('\n');
}

/**
 * The completion options the flags ask for ({} when none).
 * @param {Record<string, any>} values parsed flags
 * @param {(message: string) => Error} usageError
 * @returns {{ grammar?: string, jsonSchema?: object }}
 */
export function constraintOptions(values, usageError) {
  const given = ['grammar', 'json-schema', 'json-object'].filter((f) => values[f] !== undefined && values[f] !== false);
  if (given.length > 1) throw usageError(`give only one of ${given.map((f) => `--${f}`).join(', ')}`);
  if (values.grammar !== undefined) return { grammar: readFlagFile('--grammar', values.grammar, usageError) };
  if (values['json-schema'] !== undefined) {
    const text = readFlagFile('--json-schema', values['json-schema'], usageError);
    try {
      return { jsonSchema: JSON.parse(text) };
    } catch (e) {
      throw usageError(`--json-schema ${values['json-schema']}: not JSON (${e.message})`);
    }
  }
  if (values['json-object']) return { jsonSchema: { type: 'object' } };
  return {};
}

function readFlagFile(flag, file, usageError) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw usageError(`${flag} ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}
