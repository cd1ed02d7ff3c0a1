/**
 * `tool_choice` as a grammar: 'required' or a named function constrains the
 * reply to calls in the template's own syntax (tool-calls.js reads them
 * back), each naming a declared function with arguments that match its
 * parameter schema (json-schema.js). The grammar, not the model, makes the
 * call valid, so even a weak model returns one.
 */
import { WasmllmError } from '../errors.js';
import { jsonSchemaToGrammar } from './json-schema.js';
import { literal } from './gbnf.js';
import { detectToolFormat } from './tool-calls.js';

const bad = (message) => new WasmllmError('ERR_BAD_ARG', message);

/**
 * Checks chat()'s tool options; says whether the tools are rendered and read back.
 * @param {{ tools?: unknown, toolChoice?: unknown, parallelToolCalls?: unknown }} o
 * @returns {{ render: boolean }}
 */
export function checkToolOptions(o) {
  const { tools, toolChoice, parallelToolCalls } = o;
  if (tools != null) {
    if (!Array.isArray(tools)) throw bad('tools must be an array');
    tools.forEach((t, i) => {
      if (!t || typeof t !== 'object' || (t.type !== undefined && t.type !== 'function')) {
        throw bad(`tools[${i}] must be { type: 'function', function: { name, parameters } }`);
      }
      const fn = t.function;
      if (!fn || typeof fn.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(fn.name)) {
        throw bad(`tools[${i}].function.name must be 1-64 letters, digits, '_', '.' or '-'`);
      }
      if (fn.parameters !== undefined && (fn.parameters === null || typeof fn.parameters !== 'object' || Array.isArray(fn.parameters))) {
        throw bad(`tools[${i}].function.parameters must be a JSON Schema object`);
      }
    });
  }
  if (parallelToolCalls !== undefined && parallelToolCalls !== null && typeof parallelToolCalls !== 'boolean') {
    throw bad('parallelToolCalls must be a boolean');
  }
  const has = Array.isArray(tools) && tools.length > 0;
  if (toolChoice === undefined || toolChoice === null || toolChoice === 'auto') return { render: has };
  if (toolChoice === 'none') return { render: false };
  if (toolChoice === 'required') {
    if (!has) throw bad("toolChoice 'required' needs tools");
    return { render: true };
  }
  const name = /** @type {any} */ (toolChoice)?.function?.name;
  if (typeof name !== 'string') throw bad("toolChoice must be 'auto', 'none', 'required' or { type: 'function', function: { name } }");
  if (!has || !tools.some((t) => t.function.name === name)) throw bad(`toolChoice names '${name}', which is not among the tools`);
  return { render: true };
}

/**
 * GBNF text with every rule name prefixed, so the grammars of several
 * functions can live in one. Literals, classes, comments and repetition
 * counts are copied as they are.
 * @param {string} gbnf @param {string} prefix
 */
export function prefixRules(gbnf, prefix) {
  let out = '';
  let i = 0;
  while (i < gbnf.length) {
    const c = gbnf[i];
    if (c === '"' || c === '[') {
      const end = c === '"' ? '"' : ']';
      let j = i + 1;
      while (j < gbnf.length && gbnf[j] !== end) j += gbnf[j] === '\\' ? 2 : 1;
      out += gbnf.slice(i, j + 1);
      i = j + 1;
    } else if (c === '#') {
      const j = gbnf.indexOf('\n', i);
      const stop = j < 0 ? gbnf.length : j;
      out += gbnf.slice(i, stop);
      i = stop;
    } else if (c === '{') {
      const j = gbnf.indexOf('}', i);
      const stop = j < 0 ? gbnf.length : j + 1;
      out += gbnf.slice(i, stop);
      i = stop;
    } else if (/[A-Za-z0-9_-]/.test(c)) {
      let j = i;
      while (j < gbnf.length && /[A-Za-z0-9_-]/.test(gbnf[j])) j++;
      out += prefix + gbnf.slice(i, j);
      i = j;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** How each syntax writes one call and joins several. */
const SYNTAX = {
  hermes: { argsKey: 'arguments', open: '<tool_call>\n', close: '\n</tool_call>', sep: '\n', listOpen: '', listClose: '' },
  mistral: { argsKey: 'arguments', open: '', close: '', sep: ', ', listOpen: '[TOOL_CALLS][', listClose: ']' },
  granite: { argsKey: 'arguments', open: '', close: '', sep: ', ', listOpen: '<|tool_call|>[', listClose: ']' },
  llama3: { argsKey: 'parameters', open: '', close: '', sep: '; ', listOpen: '', listClose: '' },
  json: { argsKey: 'arguments', open: '', close: '', sep: ', ', listOpen: '{"tool_calls": [', listClose: ']}' },
};

/**
 * The grammar for chat()'s toolChoice, or null when the reply is free
 * ('auto', 'none', no tools).
 * @param {{ template: string, rendersTools: boolean }} rendered renderChat's result
 * @param {{ tools?: any[], toolChoice?: unknown, parallelToolCalls?: boolean, grammar?: string, jsonSchema?: unknown }} o
 * @returns {string|null}
 */
export function toolChoiceGrammar(rendered, o) {
  const choice = o.toolChoice;
  if (choice === undefined || choice === null || choice === 'auto' || choice === 'none') return null;
  if (o.grammar !== undefined || o.jsonSchema !== undefined) {
    throw bad("toolChoice 'required' or a named function cannot be combined with grammar or jsonSchema (each constrains the whole reply)");
  }
  const named = typeof choice === 'object' ? /** @type {any} */ (choice).function.name : null;
  const tools = /** @type {any[]} */ (o.tools).filter((t) => named === null || t.function.name === named);
  const format = detectToolFormat(rendered.template, rendered.rendersTools);
  const syn = SYNTAX[format];
  const rules = [];
  const calls = tools.map((t, i) => {
    // Compact arguments, as OpenAI writes them: flexible whitespace lets a weak
    // model spend its whole token budget on spaces inside the call.
    const args = jsonSchemaToGrammar(t.function.parameters ?? { type: 'object' }, { whitespace: 'none' });
    rules.push(prefixRules(args, `f${i}-`));
    const head = `{"name": ${JSON.stringify(t.function.name)}, ${JSON.stringify(syn.argsKey)}: `;
    return `${literal(syn.open + head)} f${i}-root ${literal('}' + syn.close)}`;
  });
  const one = calls.length === 1 ? calls[0] : `( ${calls.join(' | ')} )`;
  const parallel = o.parallelToolCalls !== false;
  const list = parallel ? `call ( ${literal(syn.sep)} call )*` : 'call';
  const root = [syn.listOpen ? literal(syn.listOpen) : '', list, syn.listClose ? literal(syn.listClose) : ''].filter(Boolean).join(' ');
  return [`root ::= ${root}`, `call ::= ${one}`, ...rules].join('\n') + '\n';
}
