// Peak memory (issue #4, Memory): loading a model and generating must take at
// most the file + the KV cache + 64 MB, so weights go straight into the wasm
// heap as they arrive, with no second full copy in JS. The model is a 71 MB
// SmolLM2-135M-shaped Q4_0 file: any second copy of it would exceed the 64 MB
// of slack. Each load runs in a fresh child process so its peak resident
// memory is its own; the growth is measured from the moment the runtime is
// imported, just before loading.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { ensureSynthetic } from '../parity/models.js';
import { ROOT } from './runtime-fixtures.js';

const MB = 1e6;
const CONTEXT = 512;
const SLACK = 64 * MB;

let file, server, url;
before(async () => {
  [file] = ensureSynthetic({ arch: 'llama', shape: 'smollm2-135m', type: 'Q4_0', seed: 1 });
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${server.address().port}/model.gguf`;
});
after(() => server?.close());

/** Loads `source` in a child process, generates 16 tokens, reports memory. */
async function measure(source) {
  const script = `
    const { loadModel } = await import(${JSON.stringify(path.join(ROOT, 'web/index.js'))});
    const base = process.memoryUsage().rss;
    const model = await loadModel(${JSON.stringify(source)}, { threads: 1, contextSize: ${CONTEXT} });
    let n = 0;
    for await (const _ of model.complete('Once upon a time', { maxTokens: 16, temperature: 0 })) n++;
    const { heapBytes } = model.memory();
    const kvBytes = model.info().kvCacheBytes;
    model.dispose();
    console.log(JSON.stringify({ base, peak: process.resourceUsage().maxRSS * 1024, heapBytes, kvBytes, n }));
    process.exit(0);`;
  // Asynchronous: the URL's server runs in this process and must keep serving.
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
  return new Promise((resolve, reject) => child.on('close', (code) => {
    if (code !== 0) reject(new Error(`child exited ${code}: ${err}`));
    else resolve(JSON.parse(out.trim().split('\n').pop()));
  }));
}

/**
 * What the process may grow by beyond the budget. A URL's bytes arrive in
 * the socket's own 64 KB buffers, which are garbage once copied into the
 * heap; V8 frees such external memory lazily (it forces a collection only
 * after tens of MB), so they can pile up for a while. 32 MB stays well below
 * what a second copy of this 71 MB file would add.
 */
const GARBAGE = { 'a file path': 0, 'a URL': 32 * MB };

for (const [label, source] of [['a file path', () => file], ['a URL', () => url]]) {
  test(`loading from ${label}: peak memory at most file + KV cache + 64 MB`, async () => {
    const m = await measure(source());
    const fileBytes = fs.statSync(file).size;
    const budget = fileBytes + m.kvBytes + SLACK;
    const growth = m.peak - m.base;
    console.log(`# peak-memory (${label}): file ${(fileBytes / MB).toFixed(1)} MB, KV ${(m.kvBytes / MB).toFixed(1)} MB, ` +
      `budget ${(budget / MB).toFixed(1)} MB; wasm heap ${(m.heapBytes / MB).toFixed(1)} MB, ` +
      `process RSS +${(growth / MB).toFixed(1)} MB (from ${(m.base / MB).toFixed(1)} to ${(m.peak / MB).toFixed(1)} MB)`);
    assert.ok(m.n > 0, 'generated tokens');
    assert.ok(m.heapBytes >= fileBytes, 'the weights are in the heap');
    assert.ok(m.heapBytes <= budget, `wasm heap ${m.heapBytes} B is over the budget ${budget} B`);
    assert.ok(growth <= budget + GARBAGE[label], `the process grew by ${growth} B, over the budget ${budget} B` +
      (GARBAGE[label] ? ` + ${GARBAGE[label]} B of socket buffers awaiting collection` : ''));
  });
}
