/**
 * Tool calls in a model's reply: which syntax a chat template teaches its
 * model, and an incremental parser that splits the reply into content text
 * and OpenAI-shaped tool calls while it streams.
 *
 * Every syntax we parse puts JSON after a marker:
 *   hermes   <tool_call>{"name": ..., "arguments": {...}}</tool_call>   (Qwen2.5, Qwen3, Hermes, SmolLM3)
 *   mistral  [TOOL_CALLS][{"name": ..., "arguments": {...}, "id": ...}]  (Mistral Nemo and later)
 *   granite  <|tool_call|>[{"name": ..., "arguments": {...}}]            (Granite 3.x)
 *   llama3   {"name": ..., "parameters": {...}}, optionally after <|python_tag|>  (Llama 3.1-3.3)
 *   json     {"tool_calls": [{"name": ..., "arguments": {...}}]}          (our instruction for templates
 *            that cannot render tools; see toolInstruction)
 * A JSON value right at the start of the reply is also read as calls in every
 * syntax (small models often drop the marker), but only when it names a
 * declared tool, so a plain JSON answer stays content.
 */

/**
 * @typedef {'hermes'|'mistral'|'granite'|'llama3'|'json'} ToolFormat
 * @typedef {{ index: number, id?: string, type?: 'function', function: { name?: string, arguments: string } }} ToolCallDelta
 *   OpenAI's streamed shape: the first delta of a call has id, type and name, later ones only argument text.
 * @typedef {{ id: string, type: 'function', function: { name: string, arguments: string } }} ToolCall
 * @typedef {{ content: string, toolCalls: ToolCallDelta[] }} ToolCallChunk
 */

/** Markers, the closing tag (if any) and how ids look, per syntax. */
const FORMATS = {
  hermes: { triggers: ['<tool_call>'], close: '</tool_call>', idStyle: 'openai' },
  mistral: { triggers: ['[TOOL_CALLS]'], close: '', idStyle: 'mistral' },
  granite: { triggers: ['<|tool_call|>'], close: '', idStyle: 'openai' },
  llama3: { triggers: ['<|python_tag|>'], close: '', idStyle: 'openai' },
  json: { triggers: [], close: '', idStyle: 'openai' },
};

export const TOOL_FORMATS = Object.keys(FORMATS);

/**
 * The syntax a template teaches, from the markers its text writes. A template
 * that cannot render tools (`rendersTools` false) gets our JSON instruction
 * instead, except SmolLM3's, whose model was trained on <tool_call> tags.
 * @param {string} source chat template text
 * @param {boolean} rendersTools whether the template prints the `tools` it is given
 * @returns {ToolFormat}
 */
export function detectToolFormat(source, rendersTools) {
  if (source.includes('[TOOL_CALLS]')) return 'mistral';
  if (source.includes('<|tool_call|>')) return 'granite';
  if (source.includes('<tool_call>') || /SmolLM3|SmolLM/.test(source)) return 'hermes';
  if (rendersTools && source.includes('<|start_header_id|>')) return 'llama3';
  return 'json';
}

/**
 * The system-prompt text that tells a model whose template cannot render
 * tools how to call them, in the syntax the parser will read.
 * @param {ToolFormat} format @param {object[]} tools
 */
export function toolInstruction(format, tools) {
  const list = tools.map((t) => JSON.stringify(t)).join('\n');
  if (format === 'hermes') {
    return 'You may call one or more functions to assist with the user query. The functions are:\n' + list +
      '\n\nTo call a function, answer with a JSON object inside <tool_call></tool_call> tags, one per call:\n' +
      '<tool_call>\n{"name": <function name>, "arguments": <arguments object>}\n</tool_call>';
  }
  return 'You can call the following tools. To call one, answer with only a JSON object ' +
    '{"tool_calls": [{"name": <tool name>, "arguments": <arguments object>}]}.\n\nTools:\n' + list;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** @param {number} n */
function randomAlnum(n) {
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[Math.floor(Math.random() * ALNUM.length)];
  return s;
}

/**
 * A call id: OpenAI's `call_` + 24 characters, or 9 alphanumerics where the
 * template refuses anything else (Mistral's raise_exception on the length).
 * @param {'openai'|'mistral'} style
 */
export function newToolCallId(style) {
  return style === 'mistral' ? randomAlnum(9) : `call_${randomAlnum(24)}`;
}

// ---------------------------------------------------------------------------
// The JSON after a marker, scanned one character at a time.

/**
 * @typedef {{ name: string|null, argsStart: number, argsEnd: number, argsIsString: boolean, wrapper: boolean }} ScannedCall
 * @typedef {{ type: '{'|'[', role: string, call: ScannedCall|null, expect: string, key: string|null, start: number }} Frame
 */

const ARG_KEYS = new Set(['arguments', 'parameters']);
const WS = new Set([' ', '\t', '\n', '\r']);

/**
 * Reads one JSON value (an object or an array) as it arrives and finds the
 * calls in it: an object with a `name`, its `arguments` / `parameters`
 * (kept as the text the model wrote), OpenAI's nested `function` object, and
 * the `{"tool_calls": [...]}` wrapper. It checks structure, not every
 * detail of JSON: arguments are handed on as written, as OpenAI does.
 */
class CallScanner {
  constructor() {
    this.text = '';
    this.pos = 0;
    /** @type {Frame[]} */
    this.stack = [];
    /** @type {ScannedCall[]} */
    this.calls = [];
    /** @type {{ start: number, role: string, call: ScannedCall|null, escaped: boolean } | null} */
    this.str = null;
    /** @type {{ start: number, role: string, call: ScannedCall|null } | null} */
    this.prim = null;
    this.started = false;
    /** Index just past the value once it is complete, else -1. */
    this.end = -1;
    this.error = false;
  }

  /** @param {string} chunk */
  feed(chunk) {
    this.text += chunk;
    while (this.pos < this.text.length && this.end < 0 && !this.error) {
      this.#step(this.text[this.pos]);
      this.pos++;
    }
  }

  /** Argument text of a call as far as it has arrived. @param {ScannedCall} call */
  argsSoFar(call) {
    if (call.argsStart < 0) return '';
    if (call.argsEnd >= 0) {
      const raw = this.text.slice(call.argsStart, call.argsEnd);
      if (!call.argsIsString) return raw;
      try { return String(JSON.parse(raw)); } catch { return raw; }
    }
    // A stringified-JSON argument is only known once its string ends.
    return call.argsIsString ? '' : this.text.slice(call.argsStart, this.pos);
  }

  /** @param {string} c */
  #step(c) {
    if (this.str) {
      if (this.str.escaped) this.str.escaped = false;
      else if (c === '\\') this.str.escaped = true;
      else if (c === '"') {
        const s = this.str;
        this.str = null;
        this.#valueEnd(s.role, s.call, s.start, this.pos + 1);
      }
      return;
    }
    if (this.prim) {
      if (WS.has(c) || c === ',' || c === '}' || c === ']' || c === ':') {
        const p = this.prim;
        this.prim = null;
        this.#valueEnd(p.role, p.call, p.start, this.pos);
        if (this.end >= 0) return;
      } else {
        return;
      }
    }
    if (WS.has(c)) return;
    const top = this.stack[this.stack.length - 1];
    if (!top) {
      if (this.started) { this.error = true; return; }
      this.started = true;
      if (c !== '{' && c !== '[') { this.error = true; return; }
      this.#open(c, c === '{' ? 'call' : 'calls', c === '{' ? this.#newCall() : null);
      return;
    }
    if (top.type === '{') this.#stepObject(top, c);
    else this.#stepArray(top, c);
  }

  #newCall() {
    const call = { name: null, argsStart: -1, argsEnd: -1, argsIsString: false, wrapper: false };
    this.calls.push(call);
    return call;
  }

  /** @param {'{'|'['} type @param {string} role @param {ScannedCall|null} call */
  #open(type, role, call) {
    this.stack.push({ type, role, call, expect: type === '{' ? 'key' : 'value', key: null, start: this.pos });
  }

  /** @param {Frame} f @param {string} c */
  #stepObject(f, c) {
    if (f.expect === 'key') {
      if (c === '}' ) return this.#close(f);
      if (c !== '"') { this.error = true; return; }
      this.str = { start: this.pos, role: 'key', call: null, escaped: false };
      return;
    }
    if (f.expect === 'colon') {
      if (c !== ':') { this.error = true; return; }
      f.expect = 'value';
      return;
    }
    if (f.expect === 'comma') {
      if (c === ',') { f.expect = 'key'; return; }
      if (c === '}') return this.#close(f);
      this.error = true;
      return;
    }
    this.#valueStart(f, c);
  }

  /** @param {Frame} f @param {string} c */
  #stepArray(f, c) {
    if (f.expect === 'comma') {
      if (c === ',') { f.expect = 'value'; return; }
      if (c === ']') return this.#close(f);
      this.error = true;
      return;
    }
    if (c === ']') return this.#close(f);
    this.#valueStart(f, c);
  }

  /** What a value in frame `f` (under its current key) means. @param {Frame} f @param {string} c */
  #childRole(f, c) {
    if (f.role === 'call' || f.role === 'fn') {
      if (f.key === 'name' && c === '"') return 'name';
      if (ARG_KEYS.has(/** @type {string} */ (f.key))) return 'args';
      if (f.key === 'function' && c === '{') return 'fn';
      if (f.key === 'tool_calls' && c === '[' && f.role === 'call' && this.stack.length === 1) return 'calls';
      return 'skip';
    }
    if (f.role === 'calls') return c === '{' ? 'call' : 'skip';
    return f.role === 'args' || f.role === 'inargs' ? 'inargs' : 'skip';
  }

  /** @param {Frame} f @param {string} c */
  #valueStart(f, c) {
    const role = this.#childRole(f, c);
    let call = f.call;
    if (role === 'call') call = this.#newCall();
    if (role === 'calls' && f.call) f.call.wrapper = true;
    if (role === 'args' && call) {
      call.argsStart = this.pos;
      call.argsIsString = c === '"';
    }
    f.expect = 'comma';
    if (c === '{' || c === '[') this.#open(c, role, call);
    else if (c === '"') this.str = { start: this.pos, role, call, escaped: false };
    else if (c === '}' || c === ']' || c === ',' || c === ':') this.error = true;
    else this.prim = { start: this.pos, role, call };
  }

  /** @param {Frame} f */
  #close(f) {
    this.stack.pop();
    this.#valueEnd(f.role, f.call, f.start, this.pos + 1);
  }

  /** @param {string} role @param {ScannedCall|null} call @param {number} start @param {number} end */
  #valueEnd(role, call, start, end) {
    const parent = this.stack[this.stack.length - 1];
    if (role === 'key') {
      try { parent.key = JSON.parse(this.text.slice(start, end)); } catch { this.error = true; return; }
      parent.expect = 'colon';
      return;
    }
    if (role === 'name' && call && call.name === null) {
      try { call.name = String(JSON.parse(this.text.slice(start, end))); } catch { this.error = true; return; }
    }
    if (role === 'args' && call) call.argsEnd = end;
    if (!parent) this.end = end;
  }
}

// ---------------------------------------------------------------------------
// The reply: content, markers, calls.

/**
 * Splits a streamed reply into content and tool calls. push() each piece of
 * text as it is generated, then finish(); both return what became certain:
 * content text and OpenAI tool-call deltas. Text that may still turn out to
 * be a marker is held back, so the chunks join to the same result however
 * the reply is split.
 */
export class ToolCallStream {
  /**
   * @param {ToolFormat} format
   * @param {{ toolNames?: Iterable<string>, parallel?: boolean, newId?: () => string }} [options]
   *   toolNames: the declared functions (a bare JSON reply counts as a call only if it names one);
   *   parallel: false stops after the first call (`done` turns true);
   *   newId: call ids (default: random, in the template's style)
   */
  constructor(format, options = {}) {
    const spec = FORMATS[format];
    if (!spec) throw new Error(`unknown tool-call format '${format}'`);
    this.format = format;
    this.spec = spec;
    this.toolNames = new Set(options.toolNames ?? []);
    this.parallel = options.parallel ?? true;
    this.newId = options.newId ?? (() => newToolCallId(spec.idStyle));
    /** 'content' | 'body' | 'close' | 'plain' */
    this.mode = 'content';
    this.pending = '';
    /** Nothing but whitespace has been content so far: a bare JSON value may start. */
    this.atStart = true;
    /** @type {CallScanner|null} */
    this.scanner = null;
    this.bodyRaw = '';
    this.bare = false;
    /** @type {Map<ScannedCall, { index: number, sent: number }>} */
    this.emitted = new Map();
    /** @type {ToolCall[]} */
    this.calls = [];
    this.content = '';
    /** True once parallel calls are off and the first call is complete: generation can stop. */
    this.done = false;
  }

  /** @param {string} text @returns {ToolCallChunk} */
  push(text) {
    const out = { content: '', toolCalls: [] };
    if (this.done) return out;
    this.pending += text;
    this.#run(out, false);
    return out;
  }

  /** Ends the reply: held-back text becomes content, an unfinished call keeps what arrived. @returns {ToolCallChunk} */
  finish() {
    const out = { content: '', toolCalls: [] };
    if (!this.done) this.#run(out, true);
    // #run(final) leaves only an unfinished call body, or content it has emitted.
    if (this.mode === 'body' && !this.done) {
      // A call whose header went out stays (with the arguments that arrived); anything else was text.
      if (this.#bodyCallsEmitted() === 0) this.#emitContent(out, this.bodyRaw);
      this.scanner = null;
    } else if (this.mode !== 'body') {
      this.#emitContent(out, this.pending);
    }
    this.pending = '';
    this.mode = 'plain';
    return out;
  }

  /** @param {ToolCallChunk} out @param {string} text */
  #emitContent(out, text) {
    if (!text) return;
    out.content += text;
    this.content += text;
  }

  #bodyCallsEmitted() {
    if (!this.scanner) return 0;
    return this.scanner.calls.filter((c) => this.emitted.has(c)).length;
  }

  /** @param {ToolCallChunk} out @param {boolean} final */
  #run(out, final) {
    for (let guard = 0; guard < 1e6 && !this.done; guard++) {
      const before = this.mode + this.pending.length;
      if (this.mode === 'content') this.#content(out, final);
      else if (this.mode === 'body') this.#body(out);
      else if (this.mode === 'close') this.#close(out, final);
      else { this.#emitContent(out, this.pending); this.pending = ''; }
      if (this.mode + this.pending.length === before) return;
    }
  }

  /** @param {ToolCallChunk} out @param {boolean} final */
  #content(out, final) {
    const { triggers } = this.spec;
    if (final && this.calls.length > 0) {
      // After calls, whitespace or the start of another marker is a reply cut off before its next call, not content.
      const rest = this.pending.trim();
      if (rest === '' || triggers.some((t) => t.startsWith(rest))) { this.pending = ''; return; }
    }
    if (this.atStart) {
      const lead = this.pending.length - this.pending.trimStart().length;
      const rest = this.pending.slice(lead);
      if (rest === '') return; // only whitespace yet: it may precede a bare call
      const marker = triggers.some((t) => rest.startsWith(t) || (t.startsWith(rest) && !final));
      if (!marker && (rest[0] === '{' || rest[0] === '[')) {
        this.#startBody(this.pending.slice(0, lead), rest, true);
        return;
      }
      if (marker && !triggers.some((t) => rest.startsWith(t))) return; // may still become the marker
      // Whitespace between calls is not content.
      if (this.calls.length > 0) this.pending = rest;
      this.atStart = false;
    }
    let at = -1, trigger = '';
    for (const t of triggers) {
      const i = this.pending.indexOf(t);
      if (i >= 0 && (at < 0 || i < at)) { at = i; trigger = t; }
    }
    if (at >= 0) {
      this.#emitContent(out, this.pending.slice(0, at));
      this.#startBody(trigger, this.pending.slice(at + trigger.length), false);
      return;
    }
    let hold = 0;
    if (!final) {
      for (const t of triggers) {
        for (let k = Math.min(t.length - 1, this.pending.length); k > hold; k--) {
          if (this.pending.endsWith(t.slice(0, k))) { hold = k; break; }
        }
      }
    }
    this.#emitContent(out, this.pending.slice(0, this.pending.length - hold));
    this.pending = this.pending.slice(this.pending.length - hold);
  }

  /** @param {string} prefix marker or leading whitespace @param {string} rest @param {boolean} bare */
  #startBody(prefix, rest, bare) {
    this.mode = 'body';
    this.bare = bare;
    this.scanner = new CallScanner();
    this.bodyRaw = prefix;
    this.pending = rest;
    this.atStart = false;
  }

  /** @param {ToolCallChunk} out */
  #body(out) {
    const scanner = /** @type {CallScanner} */ (this.scanner);
    const fed = this.pending;
    this.pending = '';
    const base = scanner.text.length;
    scanner.feed(fed);
    const committed = !this.bare || scanner.calls.some((c) => c.name !== null && !c.wrapper && this.toolNames.has(c.name));
    if (scanner.error || scanner.end >= 0) {
      const used = scanner.error ? scanner.pos : scanner.end;
      const consumed = used - base;
      this.bodyRaw += fed.slice(0, consumed);
      const leftover = fed.slice(consumed);
      if (!committed || (scanner.error && this.#bodyCallsEmitted() === 0 && !this.#namedCalls(scanner).length)) {
        // Not a call after all: everything read since the marker is content.
        this.#emitContent(out, this.bodyRaw);
        this.scanner = null;
        this.mode = scanner.error ? 'plain' : 'content';
        this.pending = leftover;
        return;
      }
      this.#emitCalls(out, scanner);
      this.scanner = null;
      if (scanner.error) {
        this.mode = 'plain';
        this.pending = leftover;
        return;
      }
      if (!this.parallel && this.calls.length > 0) {
        this.done = true;
        this.pending = '';
        return;
      }
      this.mode = 'close';
      this.pending = leftover;
      return;
    }
    this.bodyRaw += fed;
    if (committed) this.#emitCalls(out, scanner);
  }

  /** @param {CallScanner} scanner */
  #namedCalls(scanner) {
    return scanner.calls.filter((c) => c.name !== null && !c.wrapper);
  }

  /** Header deltas for newly named calls, argument deltas for text that arrived. @param {ToolCallChunk} out @param {CallScanner} scanner */
  #emitCalls(out, scanner) {
    for (const call of scanner.calls) {
      if (call.wrapper || call.name === null) continue;
      if (!this.parallel && this.calls.length > 0 && !this.emitted.has(call)) continue;
      let state = this.emitted.get(call);
      const args = scanner.argsSoFar(call);
      if (!state) {
        state = { index: this.calls.length, sent: 0 };
        this.emitted.set(call, state);
        const id = this.newId();
        this.calls.push({ id, type: 'function', function: { name: call.name, arguments: '' } });
        out.toolCalls.push({ index: state.index, id, type: 'function', function: { name: call.name, arguments: '' } });
      }
      if (args.length > state.sent) {
        const delta = args.slice(state.sent);
        state.sent = args.length;
        this.calls[state.index].function.arguments += delta;
        out.toolCalls.push({ index: state.index, function: { arguments: delta } });
      }
    }
  }

  /** After a call: whitespace, `;` between Llama 3 calls, and the closing tag. @param {ToolCallChunk} out @param {boolean} final */
  #close(out, final) {
    const trimmed = this.pending.replace(/^[\s;]+/, '');
    const { close } = this.spec;
    if (close && trimmed.startsWith(close)) {
      this.pending = trimmed.slice(close.length);
      this.mode = 'content';
      this.atStart = true;
      return;
    }
    if (!final && (trimmed === '' || (close && close.startsWith(trimmed)))) return;
    this.pending = this.pending.slice(this.pending.length - trimmed.length);
    this.mode = 'content';
    this.atStart = true;
  }
}

/**
 * Parses a whole reply at once (the non-streaming answer): the same result
 * as streaming it through ToolCallStream.
 * @param {string} text @param {ToolFormat} format
 * @param {ConstructorParameters<typeof ToolCallStream>[1]} [options]
 * @returns {{ content: string, toolCalls: ToolCall[] }}
 */
export function parseToolCalls(text, format, options) {
  const stream = new ToolCallStream(format, options);
  stream.push(text);
  stream.finish();
  return { content: stream.content, toolCalls: stream.calls };
}
