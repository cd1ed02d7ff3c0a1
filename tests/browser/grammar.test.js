/**
 * Grammars and logit biases from a page: the options cross to the model's
 * Web Worker as they are, and its errors come back with their codes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { skipReason, launch, server } from './helpers.js';

const skip = skipReason() || false;
let srv, browser, page;

before(async () => {
  if (skip) return;
  srv = await server();
  browser = await launch();
  page = browser.page;
  await page.goto(`${srv.url}?nopreload`);
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

test('grammar, logitBias and ERR_BAD_GRAMMAR through the browser worker', { skip, timeout: 60_000 }, async () => {
  const r = await page.evaluate(async () => {
    const w = await import('/web/browser/index.js');
    const model = await w.loadModel('/models/shakespeare.gguf');
    const out = {};
    out.text = '';
    for await (const p of model.complete('ROMEO:', { grammar: 'root ::= "Hello, " [a-z]{3,8} "!"', temperature: 0.8, seed: 5, maxTokens: 40 })) out.text += p.text;
    out.finish = model.lastCompletion.finishReason;
    const ids = await model.tokenize('ROMEO:');
    const plain = [];
    for await (const p of model.complete(ids, { maxTokens: 3, temperature: 0 })) plain.push(p.token);
    const banned = [];
    for await (const p of model.complete(ids, { maxTokens: 3, temperature: 0, logitBias: { [plain[0]]: -Infinity } })) banned.push(p.token);
    out.plain = plain;
    out.banned = banned;
    try {
      for await (const _ of model.complete('ROMEO:', { grammar: 'root ::= "a"\nx ::= [b' })) { /* never */ }
    } catch (e) {
      out.code = e.code;
      out.message = e.message;
    }
    model.dispose();
    return out;
  });
  assert.match(r.text, /^Hello, [a-z]{3,8}!$/);
  assert.equal(r.finish, 'stop');
  assert.notEqual(r.banned[0], r.plain[0]);
  assert.equal(r.code, 'ERR_BAD_GRAMMAR');
  assert.match(r.message, /line 2, column 7/);
});
