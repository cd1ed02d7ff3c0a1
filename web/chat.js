/**
 * Chat prompts: render the GGUF's Jinja chat template into the text the model
 * was trained on, and tell the generation loop where a turn ends.
 *
 * Typical use (this is what Model.chat() does):
 *
 *   const { prompt, stopStrings, stopTokenIds } = renderChat(metadata, messages);
 *   const ids = encodeChatPrompt(tokenizer, prompt, metadata); // parseSpecial, one BOS at most
 *   // generate from ids; end the turn at any id in stopTokenIds (plus the
 *   // tokenizer's EOG ids) or when the decoded text reaches a stop string
 *   // (trim the stop string from the answer).
 *
 * Templates are rendered with @huggingface/jinja (the renderer transformers.js
 * uses), loaded by web/jinja.js: await loadJinja() before rendering. Where a template lacks a feature (no system role, no tools, no tool
 * calls or tool results) the conversation is rewritten into a form it does
 * accept, as llama.cpp does, rather than failing: see `applyPolyfills`.
 */
import { Template, Environment, Interpreter, tokenize as jinjaTokenize, parse as jinjaParse, requireJinja } from './jinja.js';
import { WasmllmError } from './errors.js';
import { GGUFStringArray, asStringArray, stringAt } from './gguf-strings.js';
import { detectToolFormat, toolInstruction } from './structured/tool-calls.js';

const TEMPLATE_KEY = 'tokenizer.chat_template';

/**
 * ChatML, the fallback for a GGUF without a template (llama.cpp falls back
 * to it too). Our own wording of the well-known format.
 */
export const CHATML_TEMPLATE =
  "{%- for message in messages -%}" +
  "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}" +
  "{%- endfor -%}" +
  "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

/**
 * Texts that end an assistant turn in the template families we know. One of
 * them becomes a stop string when the template text writes it or the
 * vocabulary has it as a token (llama.cpp treats the same texts as
 * end-of-generation tokens).
 */
const END_OF_TURN_MARKERS = [
  '<|im_end|>', '<|eot_id|>', '<|eom_id|>', '<end_of_turn>', '<|end|>', '<|end_of_text|>',
  '<｜end▁of▁sentence｜>', '<|endoftext|>', '</s>', '<|END_OF_TURN_TOKEN|>', '<EOT>', '<|return|>',
];
/** Markers that end a turn only when the template itself uses them (else too generic). */
const TEMPLATE_ONLY_MARKERS = new Set(['</s>', '<|endoftext|>', '<|end_of_text|>']);

/**
 * @typedef {{ id?: string, type?: string, function: { name: string, arguments: object|string } }} ToolCall
 * @typedef {{
 *   role: 'system'|'user'|'assistant'|'tool'|string,
 *   content?: string|null|Array<{ type: string, text?: string }>,
 *   tool_calls?: ToolCall[],
 *   tool_call_id?: string,
 *   name?: string,
 *   reasoning_content?: string,
 * }} ChatMessage
 * @typedef {{
 *   addGenerationPrompt?: boolean,
 *   tools?: object[],
 *   template?: string,
 *   templateName?: string,
 *   extra?: Record<string, unknown>,
 *   warn?: (message: string) => void,
 * }} RenderOptions
 * @typedef {{
 *   prompt: string,
 *   stopStrings: string[],
 *   stopTokenIds: number[],
 *   usedFallback: boolean,
 *   polyfills: string[],
 *   template: string,
 *   rendersTools: boolean,
 * }} RenderResult
 */

/**
 * Per-model state: compiled templates, their probed capabilities, and
 * whether the fallback warning was given. Keyed by the metadata Map so it
 * dies with the model.
 * @type {WeakMap<object, { compiled: Map<string, Compiled>, warned: boolean, stops?: Map<string, object> }>}
 */
const perModel = new WeakMap();

/** @param {Map<string, unknown>} metadata */
function modelState(metadata) {
  let s = perModel.get(metadata);
  if (!s) {
    s = { compiled: new Map(), warned: false };
    perModel.set(metadata, s);
  }
  return s;
}

/**
 * Names of the templates a GGUF carries: '' for the default one, then the
 * named ones (`tokenizer.chat_template.<name>`, e.g. 'tool_use', 'rag').
 * @param {Map<string, unknown>} metadata
 * @returns {string[]}
 */
export function listChatTemplates(metadata) {
  const names = [];
  if (typeof metadata.get(TEMPLATE_KEY) === 'string') names.push('');
  for (const key of metadata.keys()) {
    if (key.startsWith(TEMPLATE_KEY + '.') && typeof metadata.get(key) === 'string') {
      names.push(key.slice(TEMPLATE_KEY.length + 1));
    }
  }
  return names;
}

/**
 * The template text stored in the GGUF, or null when there is none.
 * @param {Map<string, unknown>} metadata
 * @param {string} [name] a named template; throws ERR_TEMPLATE if absent
 * @returns {string|null}
 */
export function getChatTemplate(metadata, name) {
  if (name) {
    const text = metadata.get(`${TEMPLATE_KEY}.${name}`);
    if (typeof text !== 'string') {
      const known = listChatTemplates(metadata).filter(Boolean);
      throw new WasmllmError('ERR_TEMPLATE', `the model has no chat template named '${name}'` +
        (known.length ? ` (it has: ${known.join(', ')})` : ''));
    }
    return text;
  }
  const text = metadata.get(TEMPLATE_KEY);
  return typeof text === 'string' && text.length > 0 ? text : null;
}

/**
 * The text of a special token named by an id key, or '' when the key or the
 * vocabulary is missing.
 * @param {Map<string, unknown>} metadata
 * @param {string} idKey e.g. 'tokenizer.ggml.bos_token_id'
 */
function tokenTextById(metadata, idKey) {
  const id = metadata.get(idKey);
  if (typeof id !== 'number') return '';
  return stringAt(metadata.get('tokenizer.ggml.tokens'), id) ?? '';
}

/**
 * `bos_token` / `eos_token` as the template sees them.
 * @param {Map<string, unknown>} metadata
 */
export function specialTokenTexts(metadata) {
  return {
    bos: tokenTextById(metadata, 'tokenizer.ggml.bos_token_id'),
    eos: tokenTextById(metadata, 'tokenizer.ggml.eos_token_id'),
  };
}

/**
 * Whether the tokenizer adds BOS by itself: the GGUF says so, else the
 * default of its tokenizer model (SentencePiece and WordPiece do, BPE does not).
 * @param {Map<string, unknown>} metadata
 */
function addsBos(metadata) {
  const flag = metadata.get('tokenizer.ggml.add_bos_token');
  if (typeof flag === 'boolean') return flag;
  const model = metadata.get('tokenizer.ggml.model');
  return model === 'llama' || model === 'bert';
}

/**
 * Whether a rendered chat prompt still needs a BOS token in front of it.
 * Most templates write `bos_token` themselves; adding another would give
 * the model two BOS tokens it never saw in training. llama.cpp makes the
 * same check.
 * @param {string} prompt rendered by renderChat
 * @param {Map<string, unknown>} metadata
 */
export function needsBos(prompt, metadata) {
  if (!addsBos(metadata)) return false;
  const { bos } = specialTokenTexts(metadata);
  return !(bos && prompt.startsWith(bos));
}

/**
 * Token ids of a rendered chat prompt: special-token text parsed as the
 * special tokens it names (the template writes them as text), no EOS added,
 * and exactly one BOS when the model wants one.
 * @param {{ encode(text: string, o: { addSpecial: boolean, parseSpecial: boolean }): number[]|Int32Array, bos?: number|null }} tokenizer
 * @param {string} prompt
 * @param {Map<string, unknown>} metadata
 * @returns {number[]}
 */
export function encodeChatPrompt(tokenizer, prompt, metadata) {
  const ids = Array.from(tokenizer.encode(prompt, { addSpecial: false, parseSpecial: true }));
  if (needsBos(prompt, metadata)) {
    const bos = tokenizer.bos ?? metadata.get('tokenizer.ggml.bos_token_id');
    if (typeof bos === 'number' && bos >= 0) ids.unshift(bos);
  }
  return ids;
}

// ---------------------------------------------------------------------------
// Locating template errors. @huggingface/jinja reports no positions, so we
// find the tag ourselves: a small scanner splits the source into tags with
// their line numbers; syntax errors are found by parsing growing prefixes,
// render errors by re-rendering with a line marker before every tag.

/**
 * @typedef {{ kind: 'stmt'|'expr'|'comment', start: number, end: number, line: number, body: string }} Tag
 */

/** @param {string} source @param {number} pos */
function lineAt(source, pos) {
  let line = 1;
  for (let i = 0; i < pos; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Splits a template into its tags. Quotes and braces inside a tag are
 * skipped so that `{{ '}}' }}` or `{{ {'a': {}} }}` end where Jinja ends them.
 * @param {string} source
 * @returns {{ tags: Tag[], error: { line: number, message: string } | null }}
 */
export function scanTemplateTags(source) {
  /** @type {Tag[]} */
  const tags = [];
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf('{', i);
    if (open < 0 || open + 1 >= source.length) break;
    const second = source[open + 1];
    if (second !== '{' && second !== '%' && second !== '#') { i = open + 1; continue; }
    if (second === '#') {
      const close = source.indexOf('#}', open + 2);
      if (close < 0) return { tags, error: { line: lineAt(source, open), message: 'comment `{#` is never closed' } };
      tags.push({ kind: 'comment', start: open, end: close + 2, line: lineAt(source, open), body: '' });
      i = close + 2;
      continue;
    }
    const closer = second === '{' ? '}' : '%';
    let j = open + 2;
    let quote = '';
    let depth = 0;
    let end = -1;
    for (; j < source.length; j++) {
      const c = source[j];
      if (quote) {
        if (c === '\\') j++;
        else if (c === quote) quote = '';
        continue;
      }
      if (c === '"' || c === "'") { quote = c; continue; }
      if (depth === 0 && c === closer && source[j + 1] === '}') { end = j + 2; break; }
      if (c === '{' || c === '(' || c === '[') depth++;
      else if ((c === '}' || c === ')' || c === ']') && depth > 0) depth--;
    }
    if (end < 0) {
      const what = second === '{' ? '`{{` expression' : '`{%` statement';
      return { tags, error: { line: lineAt(source, open), message: `${what} is never closed` + (quote ? ' (a string in it is not terminated)' : '') } };
    }
    const body = source.slice(open + 2, end - 2).replace(/^[-+]/, '').replace(/[-+]$/, '').trim();
    tags.push({ kind: second === '{' ? 'expr' : 'stmt', start: open, end, line: lineAt(source, open), body });
    i = end;
    if (second === '%' && /^raw$/.test(body)) {
      const m = /\{%-?\s*endraw\s*-?%\}/.exec(source.slice(i));
      if (!m) return { tags, error: { line: lineAt(source, open), message: '`{% raw %}` is never closed' } };
      i += m.index + m[0].length;
    }
  }
  return { tags, error: null };
}

const BLOCK_END = { if: 'endif', for: 'endfor', macro: 'endmacro', call: 'endcall', filter: 'endfilter', set: 'endset' };

/** The block a statement tag opens, or null. `{% set x = 1 %}` opens none; `{% set x %}` does. */
function blockOpened(body) {
  const word = body.split(/\s|\(/, 1)[0];
  if (word === 'set') return /^set\s+[\w\s,.]+$/.test(body) ? 'set' : null;
  return Object.hasOwn(BLOCK_END, word) ? word : null;
}

/**
 * Finds the line of a syntax error: first by block structure, then by
 * parsing each prefix of the template (with its open blocks closed) until
 * one fails to parse.
 * @param {string} source
 * @returns {{ line: number, message: string } | null}
 */
function locateSyntaxError(source) {
  const { tags, error } = scanTemplateTags(source);
  if (error) return error;
  /** @type {{ word: string, line: number }[]} */
  const stack = [];
  /** @type {string[][]} the open blocks after each tag */
  const openAfter = [];
  for (const tag of tags) {
    if (tag.kind === 'stmt') {
      const word = tag.body.split(/\s/, 1)[0];
      const opened = blockOpened(tag.body);
      if (opened) stack.push({ word: opened, line: tag.line });
      else if (word.startsWith('end') && word !== 'endgeneration') {
        const top = stack.pop();
        if (!top) return { line: tag.line, message: `\`{% ${word} %}\` has no block to close` };
        if (BLOCK_END[top.word] !== word) {
          return { line: tag.line, message: `\`{% ${word} %}\` closes \`{% ${top.word} %}\` opened at line ${top.line}` };
        }
      } else if ((word === 'elif' || word === 'else') && !stack.some((b) => b.word === 'if' || b.word === 'for')) {
        return { line: tag.line, message: `\`{% ${word} %}\` outside an if block` };
      }
    }
    openAfter.push(stack.map((b) => b.word));
  }
  for (let k = 0; k < tags.length; k++) {
    if (tags[k].kind === 'comment') continue;
    const closers = openAfter[k].slice().reverse().map((w) => `{% ${BLOCK_END[w]} %}`).join('');
    try {
      jinjaParse(jinjaTokenize(source.slice(0, tags[k].end) + closers, { lstrip_blocks: true, trim_blocks: true }));
    } catch (e) {
      return { line: tags[k].line, message: `${errorText(e)} in \`${snippet(source, tags[k])}\`` };
    }
  }
  if (stack.length) {
    const top = stack[stack.length - 1];
    return { line: top.line, message: `\`{% ${top.word} %}\` is never closed` };
  }
  return null;
}

/** @param {string} source @param {Tag} tag */
function snippet(source, tag) {
  const text = source.slice(tag.start, tag.end).replace(/\s+/g, ' ');
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

/** @param {unknown} e */
function errorText(e) {
  return e instanceof Error ? e.message : String(e);
}

const LINE_MARKER = '__wasmllm_line';

/**
 * The template with `{{ __wasmllm_line(N) }}` before each tag. Rendering it
 * fails at the same tag as the original (markers print nothing and change
 * no control flow), and the last marker run names that tag's line.
 * @param {string} source
 */
function instrumentTemplate(source) {
  const { tags } = scanTemplateTags(source);
  let out = '';
  let pos = 0;
  for (const tag of tags) {
    if (tag.kind === 'comment') continue;
    out += source.slice(pos, tag.start) + `{{ ${LINE_MARKER}(${tag.line}) }}`;
    pos = tag.start;
  }
  return out + source.slice(pos);
}

/** Thrown by the template's raise_exception(); carries the template's own words. */
class TemplateRaised extends Error {}

/**
 * @param {string} source
 * @param {Record<string, unknown>} context
 * @param {unknown} cause
 * @returns {WasmllmError}
 */
function renderError(source, context, cause) {
  let line = 0;
  try {
    renderTemplate(new Template(instrumentTemplate(source)), {
      ...context,
      [LINE_MARKER]: (n) => { line = n; return ''; },
    });
  } catch {
    // expected: it fails where the original failed; `line` says where
  }
  const raised = cause instanceof TemplateRaised;
  const what = raised ? 'chat template raised an exception' : 'chat template failed to render';
  return new WasmllmError('ERR_TEMPLATE', `${what}${line ? ` at line ${line}` : ''}: ${errorText(cause)}`, { cause });
}

// ---------------------------------------------------------------------------
// Helpers the templates call.

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/**
 * Python's time.strftime in the C locale for the directives templates use
 * (the library's own version follows the host locale, which would put e.g.
 * German month names into an English system prompt).
 * @param {Date} date
 * @param {string} format
 */
export function strftime(date, format) {
  const pad = (n, w = 2) => String(n).padStart(w, '0');
  const hour12 = date.getHours() % 12 || 12;
  const startOfYear = new Date(date.getFullYear(), 0, 1);
  const dayOfYear = Math.floor((date - startOfYear) / 86400000) + 1;
  const map = {
    Y: () => String(date.getFullYear()), y: () => pad(date.getFullYear() % 100),
    m: () => pad(date.getMonth() + 1), d: () => pad(date.getDate()), e: () => String(date.getDate()).padStart(2, ' '),
    B: () => MONTHS[date.getMonth()], b: () => MONTHS[date.getMonth()].slice(0, 3),
    A: () => DAYS[date.getDay()], a: () => DAYS[date.getDay()].slice(0, 3),
    H: () => pad(date.getHours()), I: () => pad(hour12), M: () => pad(date.getMinutes()),
    S: () => pad(date.getSeconds()), p: () => (date.getHours() < 12 ? 'AM' : 'PM'),
    j: () => pad(dayOfYear, 3), '%': () => '%',
  };
  return format.replace(/%([a-zA-Z%])/g, (all, c) => (map[c] ? map[c]() : all));
}

/**
 * Python's range(), for templates that loop over indices.
 * @param {number} a @param {number} [b] @param {number} [step]
 */
function range(a, b, step = 1) {
  const [start, stop] = b === undefined ? [0, a] : [a, b];
  if (!Number.isInteger(start) || !Number.isInteger(stop) || !Number.isInteger(step) || step === 0) {
    throw new Error('range() needs integers and a non-zero step');
  }
  const out = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

/**
 * Renders a compiled template. Template.render() cannot be used: it declares
 * the library's own raise_exception and strftime_now first, and a variable
 * cannot be declared twice, so ours are set here in their place.
 * @param {Template} template
 * @param {Record<string, unknown>} context
 * @returns {string}
 */
function renderTemplate(template, context) {
  const env = new Environment();
  const globals = {
    true: true, false: false, none: null, True: true, False: false, None: null, range,
    raise_exception: (message) => { throw new TemplateRaised(String(message)); },
    strftime_now: (format) => strftime(new Date(), String(format)),
    ...context,
  };
  for (const [key, value] of Object.entries(globals)) env.set(key, value);
  return new Interpreter(env).run(template.parsed).value;
}

// ---------------------------------------------------------------------------
// Compiling and probing.

/**
 * @typedef {{
 *   source: string,
 *   template: Template,
 *   caps: { system: boolean, tools: boolean, toolCalls: boolean, toolCallsNullContent: boolean, toolResponses: boolean },
 * }} Compiled
 */

/**
 * @param {string} source
 * @returns {Template}
 */
function compile(source) {
  try {
    return new Template(source);
  } catch (cause) {
    const where = locateSyntaxError(source);
    const message = where
      ? `chat template syntax error at line ${where.line}: ${where.message}`
      : `chat template syntax error: ${errorText(cause)}`;
    throw new WasmllmError('ERR_TEMPLATE', message, { cause });
  }
}

/**
 * Renders a probe conversation and reports whether `needle` came out. A
 * template that throws on the probe lacks the feature.
 * @param {Template} template @param {Record<string, unknown>} context @param {string} needle
 */
function probe(template, context, needle) {
  try {
    return renderTemplate(template, context).includes(needle);
  } catch {
    return false;
  }
}

/**
 * What a template can express, found by rendering small conversations (as
 * llama.cpp's minja does) instead of guessing from its text.
 * @param {Template} template @param {Record<string, unknown>} base
 */
function probeCapabilities(template, base) {
  const ctx = (messages, extra = {}) => ({ ...base, add_generation_prompt: false, messages, ...extra });
  const callId = 'call12345'; // 9 alphanumerics: Mistral templates insist
  const call = (name) => ({ id: callId, type: 'function', function: { name, arguments: { city: 'Paris' } } });
  const user = { role: 'user', content: 'Hello' };
  return {
    system: probe(template, ctx([{ role: 'system', content: '<<sys-probe>>' }, user]), '<<sys-probe>>'),
    tools: probe(template, ctx([user], {
      tools: [{ type: 'function', function: { name: 'tool_probe_fn', description: 'probe', parameters: { type: 'object', properties: {} } } }],
    }), 'tool_probe_fn'),
    // OpenAI-style callers send content null next to tool calls; some
    // templates test for that (DeepSeek), others need a string (Qwen3).
    toolCallsNullContent: probe(template, ctx([user, { role: 'assistant', content: null, tool_calls: [call('call_probe_fn')] }]), 'call_probe_fn'),
    toolCalls: probe(template, ctx([user, { role: 'assistant', content: '', tool_calls: [call('call_probe_fn')] }]), 'call_probe_fn'),
    toolResponses: probe(template, ctx([
      user,
      { role: 'assistant', content: '', tool_calls: [call('get_weather')] },
      { role: 'tool', tool_call_id: callId, name: 'get_weather', content: '<<tool-probe>>' },
    ]), '<<tool-probe>>'),
  };
}

/**
 * @param {Map<string, unknown>} metadata @param {string} source @param {Record<string, unknown>} base
 * @returns {Compiled}
 */
function compiled(metadata, source, base) {
  const state = modelState(metadata);
  let c = state.compiled.get(source);
  if (!c) {
    const template = compile(source);
    c = { source, template, caps: probeCapabilities(template, base) };
    state.compiled.set(source, c);
  }
  return c;
}

// ---------------------------------------------------------------------------
// Messages.

/**
 * Checks the caller's messages and gives each the shape templates expect:
 * string content ('' when absent; text parts joined), tool-call arguments
 * as objects (templates apply `tojson` to them), no undefined keys (Jinja's
 * `'tool_calls' in message` would see them).
 * @param {unknown} messages
 * @returns {ChatMessage[]}
 */
function normalizeMessages(messages) {
  if (!Array.isArray(messages)) throw new WasmllmError('ERR_BAD_ARG', 'chat messages must be an array');
  return messages.map((m, i) => {
    if (!m || typeof m !== 'object' || typeof m.role !== 'string' || !m.role) {
      throw new WasmllmError('ERR_BAD_ARG', `chat message ${i} must be an object with a string 'role'`);
    }
    /** @type {Record<string, unknown>} */
    const out = {};
    for (const [k, v] of Object.entries(m)) if (v !== undefined) out[k] = v;
    out.content = contentText(m.content, i);
    if (m.tool_calls != null) {
      if (!Array.isArray(m.tool_calls)) throw new WasmllmError('ERR_BAD_ARG', `chat message ${i}: tool_calls must be an array`);
      out.tool_calls = m.tool_calls.map((tc, j) => normalizeToolCall(tc, i, j));
    } else {
      delete out.tool_calls;
    }
    return /** @type {ChatMessage} */ (out);
  });
}

/** @param {unknown} content @param {number} i */
function contentText(content, i) {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((part) => {
      if (typeof part === 'string') return part;
      if (part && typeof part === 'object' && part.type === 'text' && typeof part.text === 'string') return part.text;
      throw new WasmllmError('ERR_BAD_ARG', `chat message ${i}: only text content parts are supported`);
    }).join('');
  }
  throw new WasmllmError('ERR_BAD_ARG', `chat message ${i}: content must be a string, null or an array of text parts`);
}

/** @param {any} tc @param {number} i @param {number} j */
function normalizeToolCall(tc, i, j) {
  const fn = tc?.function;
  if (!fn || typeof fn.name !== 'string') {
    throw new WasmllmError('ERR_BAD_ARG', `chat message ${i}: tool_calls[${j}] needs function.name`);
  }
  let args = fn.arguments ?? {};
  if (typeof args === 'string') {
    try { args = JSON.parse(args); } catch { /* keep the string: the template prints it as given */ }
  }
  return { ...tc, type: tc.type ?? 'function', function: { ...fn, arguments: args } };
}

/**
 * Rewrites the conversation into what the template can express. Returns the
 * names of the rewrites made, so callers can tell the user.
 * @param {ChatMessage[]} messages
 * @param {object[]|undefined} tools
 * @param {Compiled['caps']} caps
 * @param {string} source the template text (it names the tool-call syntax)
 */
function applyPolyfills(messages, tools, caps, source) {
  /** @type {string[]} */
  const applied = [];
  let out = messages;
  if (tools && tools.length && !caps.tools) {
    // In the syntax web/structured/tool-calls.js will read back.
    out = prependSystem(out, toolInstruction(detectToolFormat(source, false), tools));
    applied.push('tools-in-system');
  }
  if (!caps.toolCalls && out.some((m) => m.tool_calls)) {
    out = out.map((m) => {
      if (!m.tool_calls) return m;
      const calls = m.tool_calls.map((tc) => ({ name: tc.function.name, arguments: tc.function.arguments, ...(tc.id ? { id: tc.id } : {}) }));
      const json = JSON.stringify({ tool_calls: calls });
      const { tool_calls: _, ...rest } = m;
      return { ...rest, content: m.content ? `${m.content}\n${json}` : json };
    });
    applied.push('tool-calls-as-text');
  }
  if (!caps.toolResponses && out.some((m) => m.role === 'tool')) {
    out = out.map((m) => {
      if (m.role !== 'tool') return m;
      const response = { ...(m.name ? { tool: m.name } : {}), ...(m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}), content: jsonOrText(m.content) };
      return { role: 'user', content: JSON.stringify({ tool_response: response }) };
    });
    applied.push('tool-responses-as-user');
  }
  if (!caps.system && out.some((m) => m.role === 'system')) {
    out = mergeSystemIntoUser(out);
    applied.push('system-in-first-user');
  }
  if (caps.toolCalls && caps.toolCallsNullContent) {
    out = out.map((m) => (m.tool_calls && m.content === '' ? { ...m, content: null } : m));
  }
  return { messages: out, applied };
}

/** Tool output that is JSON is nested as JSON, not as an escaped string. @param {string} text */
function jsonOrText(text) {
  try { return JSON.parse(text); } catch { return text; }
}

/** @param {ChatMessage[]} messages @param {string} text */
function prependSystem(messages, text) {
  if (messages[0]?.role === 'system') {
    return [{ ...messages[0], content: messages[0].content ? `${messages[0].content}\n\n${text}` : text }, ...messages.slice(1)];
  }
  return [{ role: 'system', content: text }, ...messages];
}

/**
 * For templates without a system role (Gemma 2): the system text opens the
 * first user turn, which is how those models were taught to take it.
 * @param {ChatMessage[]} messages
 */
function mergeSystemIntoUser(messages) {
  const system = messages.filter((m) => m.role === 'system').map((m) => m.content).filter(Boolean).join('\n\n');
  const rest = messages.filter((m) => m.role !== 'system');
  const first = rest.findIndex((m) => m.role === 'user');
  if (first < 0) return [{ role: 'user', content: system }, ...rest];
  return rest.map((m, i) => (i === first ? { ...m, content: system ? `${system}\n\n${m.content}` : m.content } : m));
}

// ---------------------------------------------------------------------------
// Stops.

/**
 * The end-of-turn texts and token ids for a template on a model: markers the
 * template writes, the vocabulary's EOS/EOT/EOM tokens, and the tokens whose
 * text is a known end-of-turn marker.
 * @param {string} source
 * @param {Map<string, unknown>} metadata
 * @returns {{ stopStrings: string[], stopTokenIds: number[] }}
 */
export function detectStops(source, metadata) {
  const state = modelState(metadata);
  state.stops ??= new Map();
  const cached = state.stops.get(source);
  if (cached) return cached;

  // Packed (GGUFStringArray): the vocabulary is searched by bytes, not decoded.
  const vocab = asStringArray(metadata.get('tokenizer.ggml.tokens')) ?? GGUFStringArray.from([]);
  const types = metadata.get('tokenizer.ggml.token_type');
  /** @type {Set<string>} */
  const strings = new Set();
  /** @type {Set<number>} */
  const ids = new Set();

  for (const marker of END_OF_TURN_MARKERS) {
    if (source.includes(marker)) strings.add(marker);
  }
  if (source.includes('eos_token')) {
    const { eos } = specialTokenTexts(metadata);
    if (eos) strings.add(eos);
  }
  for (const key of ['eos', 'eot', 'eom']) {
    const id = metadata.get(`tokenizer.ggml.${key}_token_id`);
    if (typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < vocab.length) {
      ids.add(id);
      strings.add(/** @type {string} */ (vocab.get(id)));
    }
  }
  // Markers the vocabulary has as control tokens end a turn even when the
  // template doesn't write them (e.g. Llama 3's <|eom_id|> after a tool call).
  const wanted = new Set(END_OF_TURN_MARKERS.filter((m) => !TEMPLATE_ONLY_MARKERS.has(m) || strings.has(m)));
  for (const s of strings) wanted.add(s);
  for (const [id, text] of vocab.findAll(wanted)) {
    const type = types ? types[id] : 3;
    const special = type === 3 || type === 4; // control or user-defined
    if (strings.has(text) || special) {
      ids.add(id);
      strings.add(text);
    }
  }
  const result = { stopStrings: [...strings].filter(Boolean), stopTokenIds: [...ids].sort((a, b) => a - b) };
  state.stops.set(source, result);
  return result;
}

// ---------------------------------------------------------------------------

/**
 * Renders a conversation with the model's chat template.
 *
 * Template variables: `messages`, `add_generation_prompt`, `bos_token`,
 * `eos_token`, `tools` (when given), `enable_thinking` (true unless `extra`
 * says otherwise; Qwen3, SmolLM3 and DeepSeek-R1 templates read it),
 * `raise_exception`, `strftime_now`, and everything in `extra` (e.g.
 * `{ enable_thinking: false }`, `{ documents: [...] }`, `{ date_string }`).
 *
 * @param {Map<string, unknown>} metadata GGUF metadata (web/gguf.js parseGGUF().metadata)
 * @param {ChatMessage[]} messages
 * @param {RenderOptions} [options]
 *   template: a template string used instead of the GGUF's;
 *   templateName: one of the GGUF's named templates (`tokenizer.chat_template.<name>`);
 *   warn: where the ChatML-fallback warning goes (default console.warn), once per model.
 * @returns {RenderResult} prompt: the text to tokenize with encodeChatPrompt();
 *   stopStrings / stopTokenIds: where the assistant's turn ends;
 *   usedFallback: the GGUF had no template and ChatML was used;
 *   polyfills: rewrites made because the template lacks a feature;
 *   template: the template text used; rendersTools: whether it prints `tools` itself.
 * @throws {WasmllmError} ERR_TEMPLATE when the template fails to parse or render
 *   (the message names the template line), ERR_BAD_ARG for malformed messages.
 */
export function renderChat(metadata, messages, options = {}) {
  if (!(metadata instanceof Map)) throw new WasmllmError('ERR_BAD_ARG', 'renderChat needs the GGUF metadata Map');
  requireJinja();
  const { addGenerationPrompt = true, tools, template: override, templateName, extra = {}, warn = console.warn } = options;
  if (tools != null && !Array.isArray(tools)) throw new WasmllmError('ERR_BAD_ARG', 'tools must be an array');

  let source = typeof override === 'string' ? override : getChatTemplate(metadata, templateName);
  let usedFallback = false;
  if (source == null) {
    source = CHATML_TEMPLATE;
    usedFallback = true;
    const state = modelState(metadata);
    if (!state.warned) {
      state.warned = true;
      warn('wasmllm: this model has no chat template (tokenizer.chat_template); using ChatML');
    }
  }

  const { bos, eos } = specialTokenTexts(metadata);
  /** @type {Record<string, unknown>} */
  const base = {
    bos_token: bos,
    eos_token: eos,
    enable_thinking: true,
  };
  const { template, caps } = compiled(metadata, source, base);
  const { messages: prepared, applied } = applyPolyfills(normalizeMessages(messages), tools ?? undefined, caps, source);

  const context = {
    ...base,
    ...extra,
    messages: prepared,
    add_generation_prompt: addGenerationPrompt,
    ...(tools && tools.length && caps.tools ? { tools } : {}),
  };
  let prompt;
  try {
    prompt = renderTemplate(template, context);
  } catch (cause) {
    throw renderError(source, context, cause);
  }
  const { stopStrings, stopTokenIds } = detectStops(source, metadata);
  return { prompt, stopStrings, stopTokenIds, usedFallback, polyfills: applied, template: source, rendersTools: caps.tools };
}
