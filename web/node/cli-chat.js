/**
 * `wasmllm chat`: an interactive terminal chat with a model.
 *
 * Each input line is a user turn; the answer streams as it is generated and
 * the conversation is kept between turns (the model reuses the KV cache of
 * the shared prefix). `/reset` clears it. Ctrl-C stops the answer being
 * written, not the program; at an empty prompt it asks once, then exits.
 * Ctrl-D (or the end of piped input) exits.
 *
 * Piped stdin works too: every line is a turn, each answer is printed
 * followed by a newline, and the program exits at EOF.
 */
import readline from 'node:readline';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { WasmllmError } from '../errors.js';
import { parseKvType } from '../kv-type.js';
import { CONSTRAINT_OPTIONS, constraintUsage, constraintOptions } from './cli-constraints.js';
import { SPECULATIVE_OPTIONS, speculativeUsage, speculativeFlags, openSpeculative, speculativeSummary } from './cli-speculative.js';

import { embeddedModelPath as EMBEDDED_MODEL } from './embedded-model.js';

export const CHAT_USAGE = `usage: wasmllm chat [--model PATH|URL] [--system TEXT] [options]

Interactive chat. Type a message and press Enter; the answer streams back.
  /reset    start a new conversation (keeps --system)
  /tool TEXT  answer the model's next pending tool call with TEXT (with --tools)
  /exit     quit (or Ctrl-D); Ctrl-C stops the current answer
Piped input: each line is a user turn; answers are printed; exits at EOF.

options:
  -m, --model PATH|URL     GGUF file or URL (default: the embedded Shakespeare model)
  -s, --system TEXT        system prompt
      --template FILE      Jinja chat template to use instead of the model's
      --no-think           ask thinking models (Qwen3, SmolLM3, DeepSeek-R1) not to think
      --tools FILE         OpenAI function tools (a JSON array) the model may call; calls are
                           printed as [tool call ID] NAME ARGUMENTS
      --tool-choice C      auto (default), none, required, or a function name (forced by a grammar)
  -n, --max-tokens N       longest answer in tokens (default 512)
      --temperature T      default 0.8; 0 = greedy
      --top-k K            default 40
      --top-p P            default 0.95
      --min-p P            default 0.05
      --repeat-penalty R   default 1 (off)
      --repeat-last-n N    default 64
      --frequency-penalty F
      --presence-penalty P
      --seed S             default random
      --stop TEXT          also end an answer at this text (repeatable)
${constraintUsage(27)}
${speculativeUsage(27)}
  -c, --ctx N              context size in tokens (default: the model's, at most 4096)
      --kv-type f16|q8_0   KV cache type (default f16; q8_0 takes ~53% of the memory)
  -t, --threads N          worker threads (default: 1 under 100M parameters, else every core)
      --isa simd128|relaxed|auto  wasm build (default simd128; relaxed SIMD needs Node 22+, auto
                           takes it where it runs right; same output either way)
  -v, --verbose            model and speed lines on stderr
  -h, --help`;

const NUMBER_FLAGS = {
  'max-tokens': 'maxTokens', temperature: 'temperature', 'top-k': 'topK', 'top-p': 'topP', 'min-p': 'minP',
  'repeat-penalty': 'repeatPenalty', 'repeat-last-n': 'repeatLastN', 'frequency-penalty': 'frequencyPenalty',
  'presence-penalty': 'presencePenalty', seed: 'seed', ctx: 'contextSize', 'ctx-size': 'contextSize', threads: 'threads',
};
const INTEGER_FLAGS = new Set(['max-tokens', 'top-k', 'repeat-last-n', 'seed', 'ctx', 'ctx-size', 'threads']);
/** Flags whose value must be at least this. */
const MINIMUM = { threads: 1, ctx: 1, 'ctx-size': 1, 'max-tokens': 0 };

/**
 * @typedef {{
 *   help: boolean, verbose: boolean, model: string, system: string | undefined, template: string | undefined,
 *   extra: Record<string, unknown>,
 *   load: { threads?: number, contextSize?: number, kvType?: 'f16' | 'q8_0', isa?: string },
 *   sampling: import('../model.js').CompleteOptions,
 *   speculative: ReturnType<typeof speculativeFlags>,
 * }} ChatArgs
 */

/**
 * @param {string[]} argv the arguments after `chat`
 * @returns {ChatArgs}
 */
export function parseChatArgs(argv) {
  /** @type {import('node:util').ParseArgsConfig['options']} */
  const options = {
    model: { type: 'string', short: 'm' },
    system: { type: 'string', short: 's' },
    template: { type: 'string' },
    'no-think': { type: 'boolean' },
    tools: { type: 'string' },
    'tool-choice': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    'max-tokens': { type: 'string', short: 'n' },
    ctx: { type: 'string', short: 'c' },
    'kv-type': { type: 'string' },
    isa: { type: 'string' },
    threads: { type: 'string', short: 't' },
    stop: { type: 'string', multiple: true },
    verbose: { type: 'boolean', short: 'v' },
    ...CONSTRAINT_OPTIONS,
    ...SPECULATIVE_OPTIONS,
  };
  for (const flag of Object.keys(NUMBER_FLAGS)) options[flag] ??= { type: 'string' };
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options, allowPositionals: false, strict: true }));
  } catch (e) {
    throw new WasmllmError('ERR_BAD_ARG', `wasmllm chat: ${e.message}\n\n${CHAT_USAGE}`);
  }
  /** @type {Record<string, number>} */
  const numbers = {};
  for (const [flag, key] of Object.entries(NUMBER_FLAGS)) {
    if (values[flag] === undefined) continue;
    const v = Number(values[flag]);
    if (values[flag].trim() === '' || !Number.isFinite(v) || (INTEGER_FLAGS.has(flag) && !Number.isInteger(v))) {
      throw new WasmllmError('ERR_BAD_ARG', `wasmllm chat: --${flag} needs a${INTEGER_FLAGS.has(flag) ? 'n integer' : ' number'}, got '${values[flag]}'`);
    }
    if (MINIMUM[flag] !== undefined && v < MINIMUM[flag]) {
      throw new WasmllmError('ERR_BAD_ARG', `wasmllm chat: --${flag} must be at least ${MINIMUM[flag]}`);
    }
    numbers[key] = v;
  }
  const { threads, contextSize, ...sampling } = numbers;
  const constraints = constraintOptions(values, (m) => new WasmllmError('ERR_BAD_ARG', `wasmllm chat: ${m}`));
  const kvType = values['kv-type'] === undefined ? undefined : parseKvType(values['kv-type'], 'wasmllm chat: --kv-type');
  const speculative = speculativeFlags(values, (m) => new WasmllmError('ERR_BAD_ARG', `wasmllm chat: ${m}`));
  return {
    speculative,
    help: values.help ?? false,
    verbose: values.verbose ?? false,
    model: values.model ?? EMBEDDED_MODEL,
    system: values.system,
    template: values.template,
    extra: values['no-think'] ? { enable_thinking: false } : {},
    load: {
      ...(threads !== undefined ? { threads } : {}), ...(contextSize !== undefined ? { contextSize } : {}),
      ...(kvType !== undefined ? { kvType } : {}),
      // checked by loadModel, the one rule for the API and every command
      ...(values.isa !== undefined ? { isa: values.isa } : {}),
    },
    sampling: { maxTokens: 512, ...sampling, ...constraints, ...(values.stop ? { stop: values.stop } : {}), ...toolFlags(values) },
  };
}

/**
 * --tools FILE and --tool-choice as chat() options (checked again, with the
 * tools themselves, when the first turn is prepared).
 * @param {Record<string, any>} values
 */
function toolFlags(values) {
  const out = {};
  if (values.tools !== undefined) {
    let tools;
    try {
      tools = JSON.parse(fs.readFileSync(values.tools, 'utf8'));
    } catch (e) {
      throw new WasmllmError('ERR_BAD_ARG', `wasmllm chat: --tools ${values.tools}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
    }
    if (!Array.isArray(tools)) throw new WasmllmError('ERR_BAD_ARG', `wasmllm chat: --tools ${values.tools} must hold a JSON array of tools`);
    out.tools = tools;
  }
  const choice = values['tool-choice'];
  if (choice !== undefined) {
    if (out.tools === undefined && choice !== 'none') throw new WasmllmError('ERR_BAD_ARG', 'wasmllm chat: --tool-choice needs --tools');
    out.toolChoice = ['auto', 'none', 'required'].includes(choice) ? choice : { type: 'function', function: { name: choice } };
  }
  return out;
}

/**
 * A queue of input lines that the chat loop awaits one at a time, so lines
 * typed (or piped) while an answer is being written wait their turn.
 * @param {readline.Interface} rl
 */
function lineQueue(rl) {
  /** @type {string[]} */
  const lines = [];
  let closed = false;
  /** @type {(() => void) | null} */
  let wake = null;
  rl.on('line', (line) => { lines.push(line); wake?.(); });
  rl.on('close', () => { closed = true; wake?.(); });
  return {
    get closed() { return closed; },
    get pending() { return lines.length; },
    /** @returns {Promise<string | null>} null at the end of input */
    async next() {
      while (lines.length === 0 && !closed) await new Promise((resolve) => { wake = resolve; });
      wake = null;
      return lines.length ? /** @type {string} */ (lines.shift()) : null;
    },
  };
}

/**
 * Runs the chat. Resolves with the exit code once the user leaves.
 * @param {string[]} argv arguments after `chat`
 * @param {{ stdin?: NodeJS.ReadStream, stdout?: NodeJS.WriteStream, stderr?: NodeJS.WriteStream,
 *   loadModel?: typeof import('./load.js').loadModel }} [io] streams and loader (tests)
 * @returns {Promise<number>}
 */
export async function runChatCli(argv, io = {}) {
  const { stdin = process.stdin, stdout = process.stdout, stderr = process.stderr } = io;
  let args = parseChatArgs(argv);
  if (args.help) {
    stdout.write(CHAT_USAGE + '\n');
    return 0;
  }
  const template = args.template === undefined ? undefined : readTemplate(args.template);
  const loadModel = io.loadModel ?? (await import('./load.js')).loadModel;
  // Line editing and prompts only when a person is at both ends; otherwise plain lines in, answers out.
  const interactive = Boolean(stdin.isTTY && stdout.isTTY);

  if (interactive) stderr.write(`loading ${args.model} ...\n`);
  const model = await loadModel(args.model, args.load);
  let spec = null;
  try {
    spec = args.speculative && await openSpeculative(args.speculative, 1, loadModel, args.load);
    if (spec) args = { ...args, sampling: { ...args.sampling, speculative: spec.options[0] } };
    const { renderChat } = await import('../chat.js');
    await (await import('../jinja.js')).loadJinja();
    // Render once up front: a broken template is reported before the first question.
    const { usedFallback } = renderChat(model.metadata, [{ role: 'user', content: 'hi' }], {
      template, extra: args.extra, warn: () => {},
    });
    if (args.verbose) {
      const i = model.info();
      stderr.write(`wasmllm: ${args.model}: ${i.architecture}, ${(i.nParams / 1e6).toFixed(2)}M params, ${i.fileType ?? '?'}; ` +
        `context ${i.contextSize} (${i.kvType} KV cache), ${i.threads} thread(s), wasm ${i.wasmVariant} ${i.wasmIsa}\n`);
    }
    if (interactive) {
      const name = model.metadata.get('general.name') ?? args.model;
      stderr.write(`${name}${usedFallback ? ' (no chat template: using ChatML)' : ''}\n` +
        'Type a message. /reset starts over, Ctrl-C stops an answer, Ctrl-D exits.\n');
    } else if (usedFallback) {
      stderr.write('wasmllm: this model has no chat template (tokenizer.chat_template); using ChatML\n');
    }
    return await chatLoop({ model, args, template, stdin, stdout, stderr, interactive });
  } finally {
    spec?.dispose();
    model.dispose();
  }
}

/**
 * The first tool call of the last assistant message that no tool message has answered yet.
 * @param {import('../chat.js').ChatMessage[]} messages
 */
function pendingToolCall(messages) {
  let i = messages.length - 1;
  const answered = new Set();
  while (i >= 0 && messages[i].role === 'tool') answered.add(messages[i--].tool_call_id);
  return messages[i]?.role === 'assistant' ? (messages[i].tool_calls ?? []).find((c) => c.id && !answered.has(c.id)) : undefined;
}

/** @param {string} file */
function readTemplate(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new WasmllmError('ERR_BAD_ARG', `wasmllm chat: cannot read --template ${file}: ${e.message}`);
  }
}

/**
 * The read-answer loop.
 * @param {{ model: import('../model.js').Model, args: ChatArgs, template: string | undefined,
 *   stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream, stderr: NodeJS.WriteStream, interactive: boolean }} ctx
 */
async function chatLoop({ model, args, template, stdin, stdout, stderr, interactive }) {
  const fresh = () => (args.system ? [{ role: 'system', content: args.system }] : []);
  /** @type {import('../chat.js').ChatMessage[]} */
  let messages = fresh();

  const rl = readline.createInterface({ input: stdin, output: interactive ? stdout : undefined, terminal: interactive, prompt: '> ' });
  const input = lineQueue(rl);
  /** @type {AbortController | null} the answer being written */
  let answering = null;
  let exitArmed = false;

  // At the prompt the terminal is raw and readline reports Ctrl-C.
  rl.on('SIGINT', () => {
    if (rl.line.length > 0) {
      stdout.write('^C\n');
      rl.write(null, { ctrl: true, name: 'e' });
      rl.write(null, { ctrl: true, name: 'u' });
      // A dumb terminal's readline ignores editing keys: drop the text directly.
      if (rl.line.length > 0) Object.assign(rl, { line: '', cursor: 0 });
      rl.prompt();
      return;
    }
    if (exitArmed) { stdout.write('\n'); rl.close(); return; }
    exitArmed = true;
    stdout.write('\n(To exit, press Ctrl-C again or Ctrl-D, or type /exit)\n');
    rl.prompt();
  });
  // While an answer is written the terminal is cooked (so Ctrl-C is a real
  // signal), and piped input gets real signals anyway.
  const onSignal = () => {
    if (answering) answering.abort(new WasmllmError('ERR_ABORTED', 'answer stopped by Ctrl-C'));
    else rl.close();
  };
  process.on('SIGINT', onSignal);
  rl.on('line', () => { exitArmed = false; });

  try {
    for (;;) {
      if (interactive && input.pending === 0 && !input.closed) rl.prompt();
      const line = await input.next();
      if (line === null) break;
      const text = line.trim();
      if (text === '') continue;
      if (text === '/exit' || text === '/quit') break;
      if (text === '/reset') {
        messages = fresh();
        stderr.write('(conversation cleared)\n');
        continue;
      }
      if (text === '/help') {
        stderr.write('/reset starts a new conversation, /tool TEXT answers a tool call, /exit quits; Ctrl-C stops an answer, Ctrl-D exits.\n');
        continue;
      }
      if (text === '/tool' || text.startsWith('/tool ')) {
        const call = pendingToolCall(messages);
        if (!call) {
          stderr.write('(no tool call is waiting for a result)\n');
          continue;
        }
        messages.push({ role: 'tool', tool_call_id: call.id, name: call.function.name, content: text.slice(5).trim() });
      } else {
        messages.push({ role: 'user', content: line });
      }
      answering = new AbortController();
      let answer = '';
      if (interactive) { rl.pause(); stdin.setRawMode?.(false); }
      try {
        const stream = model.chat(messages, { ...args.sampling, template, extra: args.extra, signal: answering.signal });
        let step;
        while (!(step = await stream.next()).done) {
          answer += step.value.text;
          stdout.write(step.value.text);
        }
        const calls = step.value?.message?.tool_calls ?? [];
        // A reply with calls is kept as OpenAI's message, so the template renders the calls next turn.
        messages.push(calls.length ? { ...step.value.message, content: step.value.message.content ?? '' } : { role: 'assistant', content: answer });
        stdout.write('\n');
        for (const c of calls) stdout.write(`[tool call ${c.id}] ${c.function.name} ${c.function.arguments}\n`);
        if (args.verbose) {
          const { promptEvaluated, tokens, timings: tm, finishReason } = step.value;
          stderr.write(`[${promptEvaluated} prompt tokens at ${tm.promptTokensPerSecond.toFixed(1)} t/s, ` +
            `${tokens.length} answer tokens at ${tm.decodeTokensPerSecond.toFixed(1)} t/s, ${finishReason}]\n`);
          if (tm.speculative) stderr.write(`[${speculativeSummary(tm.speculative)}]\n`);
        }
      } catch (e) {
        if (e?.code === 'ERR_ABORTED') {
          // Keep what was said so the conversation still alternates.
          if (answer) messages.push({ role: 'assistant', content: answer });
          else messages.pop();
          stdout.write(answer ? '\n' : '');
          stderr.write('[answer stopped]\n');
        } else if (e instanceof WasmllmError) {
          messages.pop();
          if (answer) stdout.write('\n');
          stderr.write(`error: ${e.message}${e.code === 'ERR_CONTEXT_FULL' ? ' (type /reset to start over)' : ''}\n`);
        } else {
          throw e;
        }
      } finally {
        answering = null;
        if (interactive && !input.closed) { stdin.setRawMode?.(true); rl.resume(); }
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    rl.close();
    if (interactive) stdin.setRawMode?.(false);
  }
  return 0;
}
