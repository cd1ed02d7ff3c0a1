/**
 * /v1/embeddings in the real workerd binary: the edge worker fetches a
 * synthetic bert (tests/edge/fixtures/url-worker.mjs) and answers with the
 * vectors the Node runtime computes; completions on it are refused with 400.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { WORKERD_BIN, startWorkerd } from '../../tools/workerd.js';
import { makeEncoderSynthetic } from '../../tools/make-synthetic-encoder.js';
import { loadModel } from '../../web/node/index.js';

const skip = fs.existsSync(WORKERD_BIN) ? false : 'workerd is not installed in tests/ref (run `node tools/setup.js --test`)';
const TEXTS = ['Hello world, embeddings!', 'The quick brown fox jumps over the lazy dog.'];

const post = (url, body) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('edge worker: POST /v1/embeddings on a bert model gives the Node runtime\'s vectors; completions are refused', { skip, timeout: 90000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-edge-embed-'));
  const file = path.join(tmp, 'bge.gguf');
  makeEncoderSynthetic({ shape: 'bge-tiny', type: 'Q8_0', seed: 11, out: file });
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const worker = await startWorkerd({
    dir: tmp, entry: 'tests/edge/fixtures/url-worker.mjs', localFetch: true, timeoutMs: 30000,
    vars: { MODEL_URL: `http://127.0.0.1:${server.address().port}/bge.gguf` },
  });
  try {
    const r = await post(`${worker.url}/v1/embeddings`, { input: TEXTS });
    assert.equal(r.status, 200, await r.clone().text());
    const json = await r.json();
    assert.equal(json.data.length, TEXTS.length);
    const model = await loadModel(file, { threads: 1 });
    try {
      const want = await model.embed(TEXTS);
      json.data.forEach((d, i) => {
        assert.equal(d.index, i);
        assert.equal(d.embedding.length, want[i].length);
        for (let j = 0; j < d.embedding.length; j++) assert.ok(Math.abs(d.embedding[j] - want[i][j]) < 1e-5, `text #${i}[${j}]`);
      });
    } finally {
      model.dispose();
    }
    const gen = await post(`${worker.url}/v1/completions`, { prompt: 'hi', max_tokens: 4 });
    assert.equal(gen.status, 400);
    assert.match((await gen.json()).error.message, /embedding model/);
  } finally {
    await worker.stop();
    server.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
