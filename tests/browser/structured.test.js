/**
 * chat() options and piece fields through the browser's Web Worker: a forced
 * tool call (the grammar runs in the worker), its streamed toolCalls deltas,
 * and log-probabilities reach the page as they do in Node.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { skipReason, openTestPage, writeSplitModel } from './helpers.js';

const skip = skipReason() || false;
let session, file;

before(async () => {
  if (skip) return;
  [file] = writeSplitModel('structured', { shards: 1 });
  session = await openTestPage();
});

after(async () => { await session?.close(); });

test('browser: toolChoice required gives a valid call streamed as toolCalls deltas; pieces carry logprobs', { skip, timeout: 90_000 }, async () => {
  const r = await session.page.evaluate(async (url) => {
    const w = await import('/web/browser/index.js');
    const model = await w.loadModel(url, { threads: 1 });
    try {
      const tools = [{ type: 'function', function: { name: 'pick', parameters: { type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 9 } }, required: ['n'], additionalProperties: false } } }];
      const it = model.chat([{ role: 'user', content: 'Pick.' }], { tools, toolChoice: 'required', parallelToolCalls: false, temperature: 0, maxTokens: 60, logprobs: 2 });
      const pieces = [];
      let step;
      while (!(step = await it.next()).done) pieces.push(step.value);
      return { pieces, result: step.value };
    } finally {
      model.dispose();
    }
  }, `${session.srv.origin}/fx/${file}`);
  const { pieces, result } = r;
  assert.equal(result.finishReason, 'tool_calls', JSON.stringify(result.message));
  const [call] = result.message.tool_calls;
  assert.equal(call.function.name, 'pick');
  const args = JSON.parse(call.function.arguments);
  assert.ok(Number.isInteger(args.n) && args.n >= 1 && args.n <= 9, call.function.arguments);
  const deltas = pieces.flatMap((p) => p.toolCalls ?? []);
  assert.equal(deltas[0].id, call.id);
  assert.equal(deltas.map((d) => d.function.arguments).join(''), call.function.arguments);
  const scored = pieces.filter((p) => p.token >= 0);
  assert.ok(scored.length > 0 && scored.every((p) => typeof p.logprob === 'number' && p.topLogprobs.length === 2));
});
