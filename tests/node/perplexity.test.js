/**
 * model.perplexity() (web/perplexity.js) and `wasmllm perplexity` on the
 * embedded model: the figures against a brute-force recomputation through
 * complete()'s logprobs (another path: wl_decode + wl_logprobs, one prefix
 * at a time), llama.cpp's formula and output lines, and the refusals.
 * Agreement with llama.cpp itself is in tests/parity/perplexity.test.js.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../web/node/index.js';
import { perplexityChunks, NllSums, formatEstimates, formatFinal } from '../../web/perplexity.js';
import { EMBEDDED, tempDir, runCli, tinyWriter, collectPieces as collect } from './runtime-fixtures.js';

const TEXT = 'ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n';

let model;
before(async () => { model = await loadModel(EMBEDDED, { threads: 1, contextSize: 64 }); });
after(() => model?.dispose());

test('NllSums: exp(mean NLL) and llama.cpp\'s standard error', () => {
  const s = new NllSums();
  for (const v of [1, 2, 3, 6]) s.add(v);
  assert.equal(s.ppl, Math.exp(3));
  // variance = mean of squares - square of mean = 12.5 - 9; its standard error sqrt(3.5 / 3), times PPL.
  assert.ok(Math.abs(s.uncertainty - Math.sqrt(3.5 / 3) * Math.exp(3)) < 1e-9);
  assert.equal(formatEstimates([12.34567, 8]), '[1]12.3457,[2]8.0000,');
  assert.equal(formatFinal({ ppl: 12.34567, uncertainty: 0.123456 }), 'Final estimate: PPL = 12.3457 +/- 0.12346');
});

test('perplexityChunks: whole chunks only, the first token of each replaced by BOS', () => {
  const ids = Array.from({ length: 11 }, (_, i) => 100 + i);
  assert.deepEqual(perplexityChunks(ids, 4, 1), [[1, 101, 102, 103], [1, 105, 106, 107]]);
  assert.deepEqual(perplexityChunks(ids, 5, null), [[100, 101, 102, 103, 104], [105, 106, 107, 108, 109]]);
});

test('perplexity(): the NLL of each chunk\'s second half, as complete()\'s logprobs give it token by token', async () => {
  const n = 8;
  const ids = model.tokenize(TEXT, { parseSpecial: false });
  const chunks = perplexityChunks(ids, n, model.tokenizer.bos);
  const seen = [];
  const r = await model.perplexity(TEXT, { contextSize: n, onChunk: (c) => seen.push(c) });
  const sums = new NllSums();
  for (const chunk of chunks) {
    for (let k = n / 2; k < n - 1; k++) {
      const it = model.complete(chunk.slice(0, k + 1), { maxTokens: 1, temperature: 0, logprobs: model.info().nVocab });
      const { value } = await it.next();
      await it.return(undefined);
      sums.add(-value.topLogprobs.find((t) => t.token === chunk[k + 1]).logprob);
    }
  }
  assert.equal(r.chunks, chunks.length);
  assert.equal(r.tokens, ids.length);
  assert.equal(r.scored, chunks.length * (n - n / 2 - 1));
  assert.equal(r.scored, sums.count);
  assert.ok(Math.abs(r.ppl / sums.ppl - 1) < 1e-5, `${r.ppl} vs ${sums.ppl}`);
  assert.ok(Math.abs(r.uncertainty / sums.uncertainty - 1) < 1e-4, `${r.uncertainty} vs ${sums.uncertainty}`);
  assert.deepEqual(seen.map((c) => c.ppl), r.estimates);
  assert.deepEqual(seen.map((c) => c.chunk), chunks.map((_, i) => i + 1));
  assert.equal(r.estimates.at(-1), r.ppl);
  // chunks: the first N only, as if the text ended there.
  const one = await model.perplexity(TEXT, { contextSize: n, chunks: 1 });
  assert.equal(one.chunks, 1);
  assert.equal(one.ppl, r.estimates[0]);
  assert.deepEqual(await model.perplexity(TEXT, { contextSize: n, chunks: 1000 }), r);
  // Token ids score the same as the text they came from; the batch size changes nothing.
  assert.deepEqual(await model.perplexity(ids, { contextSize: n, batchSize: 1 }), r);
});

test('perplexity(): refusals name the problem', async () => {
  const code = (c) => (e) => e.code === c;
  await assert.rejects(model.perplexity('ROMEO:', { contextSize: 8 }), /needs at least 16 tokens/);
  await assert.rejects(model.perplexity(TEXT, { contextSize: 128 }), code('ERR_CONTEXT_FULL'));
  await assert.rejects(model.perplexity(TEXT, { contextSize: 3 }), /contextSize must be an integer >= 4/);
  await assert.rejects(model.perplexity(TEXT, { contextSize: 8, batchSize: 0 }), /batchSize must be a positive integer/);
  await assert.rejects(model.perplexity(TEXT, { contextSize: 8, chunks: 0 }), /chunks must be a positive integer/);
  // Refused before anything runs: the cached prompt stays (the next complete() evaluates only its new token).
  await collect(model.complete(TEXT, { maxTokens: 1, temperature: 0 }));
  await assert.rejects(model.perplexity(TEXT, { contextSize: 3 }), code('ERR_BAD_ARG'));
  await collect(model.complete(TEXT, { maxTokens: 1, temperature: 0 }));
  assert.equal(model.lastCompletion.promptEvaluated, 1);
  await assert.rejects(model.perplexity([1, 2, 99999], { contextSize: 8 }), /token #2 \(99999\)/);
  await assert.rejects(model.perplexity(42, { contextSize: 8 }), code('ERR_BAD_ARG'));
  await assert.rejects(model.perplexity(TEXT, { contextSize: 8, signal: AbortSignal.abort() }), code('ERR_ABORTED'));
  const ac = new AbortController();
  await assert.rejects(model.perplexity(TEXT, { contextSize: 8, signal: ac.signal, onChunk: () => ac.abort() }), code('ERR_ABORTED'));
  // Still usable afterwards: the session is not left busy, and completes from an empty cache.
  const again = await model.perplexity(TEXT, { contextSize: 8 });
  assert.ok(again.ppl > 1);
  const busy = model.perplexity(TEXT, { contextSize: 8 });
  await assert.rejects(model.perplexity(TEXT, { contextSize: 8 }), code('ERR_BUSY'));
  await busy;
});

test('wasmllm perplexity: llama-perplexity\'s lines, the same figures as --json and the API', async () => {
  const file = path.join(tempDir(), 'romeo.txt');
  fs.writeFileSync(file, TEXT);
  const r = await runCli(['perplexity', '-m', EMBEDDED, '-f', file, '-c', '8', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const api = await model.perplexity(TEXT, { contextSize: 8 });
  assert.equal(r.stdout, `${formatEstimates(api.estimates)}\n${formatFinal(api)}\n`);
  const first = await runCli(['perplexity', '-m', EMBEDDED, '-f', file, '-c', '8', '--chunks', '1', '-q']);
  assert.equal(first.stdout, `[1]${api.estimates[0].toFixed(4)},\nFinal estimate: PPL = ${api.estimates[0].toFixed(4)} +/- ${(await model.perplexity(TEXT, { contextSize: 8, chunks: 1 })).uncertainty.toFixed(5)}\n`);
  const j = await runCli(['perplexity', '-m', EMBEDDED, '--file', file, '--ctx-size', '8', '--batch', '3', '--json', '-q']);
  assert.equal(j.code, 0, j.stderr);
  const out = JSON.parse(j.stdout);
  assert.equal(out.ppl, api.ppl);
  assert.equal(out.uncertainty, api.uncertainty);
  assert.deepEqual(out.estimates, api.estimates);
  assert.equal(out.chunks, api.chunks);

  const usage = await runCli(['perplexity', '-m', EMBEDDED]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--file is required/);
  const bad = await runCli(['perplexity', '-f', file, '--batch', '0']);
  assert.equal(bad.code, 2);
  const badKv = await runCli(['perplexity', '-f', file, '--kv-type', 'q4']);
  assert.equal(badKv.code, 2);
  assert.match(badKv.stderr, /--kv-type must be one of/);
  const short = await runCli(['perplexity', '-m', EMBEDDED, '-f', file, '-q']);
  assert.equal(short.code, 1);
  assert.match(short.stderr, /ERR_BAD_ARG: perplexity with a context of 512 needs at least 1024 tokens/);
});

test('perplexity(): a model whose tokenizer appends EOS is refused for text, as llama-perplexity refuses it', async (t) => {
  const file = path.join(tempDir(), 'adds-eos.gguf');
  tinyWriter().addBool('tokenizer.ggml.add_eos_token', true).write(file);
  const m = await loadModel(file, { threads: 1, contextSize: 16 });
  t.after(() => m.dispose());
  await assert.rejects(m.perplexity(TEXT, { contextSize: 8 }), { code: 'ERR_BAD_ARG', message: /add_eos_token/ });
  const ids = m.tokenize(TEXT, { addSpecial: false });
  assert.ok((await m.perplexity(ids, { contextSize: 8 })).ppl > 1, 'token ids are scored as given');
});
