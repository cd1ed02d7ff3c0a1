// model.chat() end to end on the wasm runtime: the embedded model (no
// template: ChatML fallback) and a small synthetic model carrying a real
// template (Mistral Nemo's), stopping at the end-of-turn token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../web/node/index.js';
import { renderChat, encodeChatPrompt } from '../../web/chat.js';
import { loadJinja } from '../../web/jinja.js';
import { EMBEDDED, ROOT, tinyWriter, tempDir, runCli, collectPieces as collect } from './runtime-fixtures.js';
import { convertTokenizerJson } from '../../tools/tokenizer-json-to-gguf.js';
import { parseGGUF } from '../../web/gguf.js';
import { createTokenizer } from '../../web/tokenizer/index.js';
import { sharedPath } from '../../tools/shared-data.js';

await loadJinja(); // renderChat is synchronous: the template engine loads first

const NEMO = fs.readFileSync(sharedPath('data/templates/mistralai-Mistral-Nemo-Instruct-2407.jinja'), 'utf8');
const GREEDY = { temperature: 0, seed: 1 };


/** A tiny synthetic model with `template` and optionally another EOS id, written to a temp file. */
function templatedModel(name, template, eosId) {
  const w = tinyWriter();
  w.addString('tokenizer.chat_template', template);
  if (eosId !== undefined) w.addU32('tokenizer.ggml.eos_token_id', eosId);
  const file = path.join(tempDir(), name);
  w.write(file);
  return file;
}

test('embedded model: chat() renders ChatML (fallback) and is complete() on the rendered prompt', async (t) => {
  const model = await loadModel(EMBEDDED, { threads: 1 });
  t.after(() => model.dispose());
  const messages = [{ role: 'system', content: 'Thou art a player.' }, { role: 'user', content: 'Speak, good sir.' }];
  const rendered = renderChat(model.metadata, messages, { warn: () => {} });
  assert.equal(rendered.usedFallback, true);
  assert.ok(rendered.stopStrings.includes('<|im_end|>'));

  const { pieces, result } = await collect(model.chat(messages, { ...GREEDY, maxTokens: 16 }));
  const ids = encodeChatPrompt(model.tokenizer, rendered.prompt, model.metadata);
  assert.deepEqual(result.promptTokens, ids, 'chat() tokenizes the rendered prompt');
  const bos = model.tokenizer.bos;
  if (bos !== null && bos !== undefined && bos >= 0) {
    assert.equal(ids.filter((id) => id === bos).length, 1, 'exactly one BOS');
    assert.equal(ids[0], bos);
  }
  assert.ok(result.tokens.length > 0 && result.tokens.length <= 16);
  assert.equal(pieces.map((p) => p.text).join(''), result.text, 'the streamed pieces are the answer');

  // The same prompt ids through complete() give the same greedy answer.
  const plain = await collect(model.complete(ids, { ...GREEDY, maxTokens: 16, stop: rendered.stopStrings, stopTokens: rendered.stopTokenIds }));
  assert.deepEqual(plain.result.tokens, result.tokens);

  // Second turn: the history is a prefix of the new prompt, so most of it is reused from the KV cache.
  const turn2 = [...messages, { role: 'assistant', content: result.text }, { role: 'user', content: 'And then?' }];
  const second = await collect(model.chat(turn2, { ...GREEDY, maxTokens: 4 }));
  assert.ok(second.result.promptEvaluated < second.result.promptTokens.length / 2,
    `evaluated ${second.result.promptEvaluated} of ${second.result.promptTokens.length} prompt tokens`);
});

test('templated model: BOS written by the template is not doubled; the answer ends at the end-of-turn token', async (t) => {
  const messages = [{ role: 'system', content: 'Answer briefly.' }, { role: 'user', content: 'Name three colours.' }];
  const first = await loadModel(templatedModel('nemo.gguf', NEMO), { threads: 1 });
  let probe;
  let promptIds;
  try {
    const rendered = renderChat(first.metadata, messages);
    assert.equal(rendered.usedFallback, false);
    assert.ok(rendered.prompt.startsWith('<s>[INST]Answer briefly.\n\nName three colours.[/INST]'), rendered.prompt);
    probe = await collect(first.chat(messages, { ...GREEDY, maxTokens: 8 }));
    promptIds = probe.result.promptTokens;
    assert.equal(promptIds[0], first.tokenizer.bos, 'the template\'s <s> is the BOS token');
    assert.notEqual(promptIds[1], first.tokenizer.bos, 'and no second BOS follows');
    assert.equal(probe.result.tokens.length, 8, 'a random model does not stop by itself within 8 tokens');
  } finally {
    first.dispose();
  }

  // Make the 4th-or-later new token the model's EOS: the same weights and
  // prompt must then give exactly the tokens before it, and stop there.
  const toks = probe.result.tokens;
  const k = toks.findIndex((id, i) => i >= 3 && !toks.slice(0, i).includes(id) && !promptIds.includes(id));
  assert.ok(k > 0, `no usable stop token in ${toks}`);
  const model = await loadModel(templatedModel('nemo-eos.gguf', NEMO, toks[k]), { threads: 1 });
  t.after(() => model.dispose());
  const rendered = renderChat(model.metadata, messages);
  assert.ok(rendered.stopTokenIds.includes(toks[k]), 'the EOS id is a stop token');
  assert.ok(rendered.stopStrings.includes(model.metadata.get('tokenizer.ggml.tokens').get(toks[k])), 'and its text a stop string');
  const stopped = await collect(model.chat(messages, { ...GREEDY, maxTokens: 8 }));
  assert.deepEqual(stopped.result.promptTokens, promptIds);
  assert.deepEqual(stopped.result.tokens, toks.slice(0, k));
  assert.equal(stopped.result.finishReason, 'stop');
  // (decode() drops SentencePiece's leading space at the start of a text; the stream keeps it.)
  assert.equal(stopped.result.text.trimStart(), model.tokenizer.decode(toks.slice(0, k)).trimStart());
});

test('chat() reports template errors and bad messages as WasmllmErrors before generating', async (t) => {
  const model = await loadModel(templatedModel('nemo.gguf', NEMO), { threads: 1 });
  t.after(() => model.dispose());
  await assert.rejects(collect(model.chat([{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }])),
    (e) => e.code === 'ERR_TEMPLATE' && /line \d+/.test(e.message) && /alternate/.test(e.message));
  await assert.rejects(collect(model.chat('hello')), (e) => e.code === 'ERR_BAD_ARG');
  await assert.rejects(collect(model.chat([{ role: 'user', content: 'x' }], { template: '{% for m in messages %}{{ m.content }' })),
    (e) => e.code === 'ERR_TEMPLATE' && /line 1/.test(e.message));
  // The model is still usable afterwards.
  const ok = await collect(model.chat([{ role: 'user', content: 'x' }], { ...GREEDY, maxTokens: 2 }));
  assert.equal(ok.result.tokens.length, 2);
});

test('chat() can be aborted mid-answer and the model keeps working', async (t) => {
  const model = await loadModel(EMBEDDED, { threads: 1 });
  t.after(() => model.dispose());
  const controller = new AbortController();
  const it = model.chat([{ role: 'user', content: 'Tell me a tale.' }], { ...GREEDY, maxTokens: 200, signal: controller.signal });
  let n = 0;
  await assert.rejects((async () => {
    for await (const _ of it) { if (++n === 3) controller.abort(); }
  })(), (e) => e.code === 'ERR_ABORTED');
  assert.equal(n, 3);
  const again = await collect(model.chat([{ role: 'user', content: 'Tell me a tale.' }], { ...GREEDY, maxTokens: 3 }));
  assert.equal(again.result.tokens.length, 3);
});

test('wasmllm chat on the real runtime: piped turns, /reset, EOF exit', async () => {
  const file = templatedModel('nemo-cli.gguf', NEMO);
  const { code, stdout, stderr } = await runCli(['chat', '--model', file, '--temperature', '0', '-n', '6', '--threads', '1'],
    { input: 'Hello there.\nAnd again.\n/reset\nHello there.\n' });
  assert.equal(code, 0, stderr);
  const answers = stdout.split('\n');
  assert.equal(answers.length, 4, JSON.stringify(stdout));
  assert.equal(answers[3], '');
  assert.equal(answers[0], answers[2], 'after /reset the same first question gets the same greedy answer');
  assert.match(stderr, /conversation cleared/);
});

// Real vocabularies: the rendered prompt must become exactly the ids that
// transformers.js (@lenml/tokenizers, the tokenizer.json's own reference)
// gives, special tokens included and one BOS. Needs tests/ref installed
// (node tools/setup.js --test).
const LENML = path.join(ROOT, 'tests/ref/node_modules/@lenml');
const haveRef = fs.existsSync(path.join(LENML, 'tokenizer-llama3/models/tokenizer.json'));

/** Vocab-only GGUF metadata and our tokenizer for a @lenml package, plus its reference tokenizer. */
async function realVocab(pkg) {
  const dir = path.join(LENML, pkg, 'models');
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const metadata = parseGGUF(convertTokenizerJson(json, config).toBuffer(), { allowNoData: true }).metadata;
  const { fromPreTrained } = await import(path.join(LENML, pkg, 'dist/main.mjs'));
  return { metadata, tokenizer: createTokenizer(metadata), reference: fromPreTrained(), config };
}

const CONVERSATION = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Hi there!\n  How are   you?\t<tab>' },
  { role: 'assistant', content: 'Fine. 🙂 你好, مرحبا' },
  { role: 'user', content: 'What is 12345678 + 9?' },
];

test('Llama 3 vocabulary: prompt text and ids equal transformers.js apply_chat_template', { skip: !haveRef && 'tests/ref is not installed' }, async () => {
  const { metadata, tokenizer, reference } = await realVocab('tokenizer-llama3');
  const r = renderChat(metadata, CONVERSATION);
  assert.equal(r.usedFallback, false, 'the converter keeps the chat template');
  assert.equal(r.prompt, reference.apply_chat_template(CONVERSATION, { tokenize: false, add_generation_prompt: true }));
  const ids = encodeChatPrompt(tokenizer, r.prompt, metadata);
  assert.deepEqual(ids, Array.from(reference.apply_chat_template(CONVERSATION, { tokenize: true, add_generation_prompt: true, return_tensor: false })));
  assert.equal(ids[0], 128000);
  assert.equal(ids.filter((id) => id === 128000).length, 1, 'one <|begin_of_text|>');
  assert.equal(ids.filter((id) => id === 128009).length, 4, 'one <|eot_id|> per message');
  assert.ok(r.stopTokenIds.includes(128009));

  // The shared Llama 3.1 template (tools, ipython) on the same vocabulary.
  const llama31 = fs.readFileSync(sharedPath('data/templates/meta-llama-Llama-3.1-8B-Instruct.jinja'), 'utf8');
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const withTools = renderChat(metadata, CONVERSATION, { template: llama31, tools });
  const ids31 = encodeChatPrompt(tokenizer, withTools.prompt, metadata);
  assert.deepEqual(ids31, Array.from(reference.encode(withTools.prompt, { add_special_tokens: false })));
  assert.equal(ids31.filter((id) => id === 128000).length, 1);
});

test('Qwen3 vocabulary: a tool-calling prompt tokenizes as transformers.js does', { skip: !haveRef && 'tests/ref is not installed' }, async () => {
  const { metadata, tokenizer, reference } = await realVocab('tokenizer-qwen3');
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const messages = [
    ...CONVERSATION,
    { role: 'assistant', content: '<think>\nuse the tool\n</think>\n\n', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
    { role: 'tool', content: '{"temperature_c": 21}' },
  ];
  for (const extra of [{}, { enable_thinking: false }]) {
    const r = renderChat(metadata, messages, { tools, extra });
    assert.deepEqual(r.polyfills, []);
    assert.ok(r.prompt.includes('<tool_call>') && r.prompt.includes('<tool_response>'));
    const ids = encodeChatPrompt(tokenizer, r.prompt, metadata);
    assert.deepEqual(ids, Array.from(reference.encode(r.prompt, { add_special_tokens: false })));
    assert.equal(ids[0], 151644, 'starts with <|im_start|>, no BOS');
    assert.ok(r.stopTokenIds.includes(151645), '<|im_end|> ends the turn');
  }
});
