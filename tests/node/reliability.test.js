// Reliability under repetition and cancellation (issue #8, items 3, 5, 6):
// - the hostile GGUF corpus (tools/make-hostile-ggufs.js) through the public
//   loadModel on bytes, 1000 times: exact codes every time, the wasm heap in
//   use and process memory back where they started, and no file makes the
//   loader ask the heap for more than the file's size;
// - aborting mid-stream, mid-prompt and mid-load leaves the runtime usable
//   (the next greedy text equals a fresh model's), and 1000 generate/abort
//   cycles leave the heap in use identical and process memory flat;
// - tokenizer properties on the byte-level BPE vocabularies over the whole
//   Unicode range and random bytes.
// Memory figures are printed (`# reliability:` lines) for the report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { loadModel, WasmllmError } from '../../web/node/index.js';
import { PROMPT_BATCH } from '../../web/model.js';
import { hostileCases } from '../../tools/make-hostile-ggufs.js';
import { createTokenizer } from '../../web/tokenizer/index.js';
import { EMBEDDED } from './runtime-fixtures.js';
import { VOCAB_DIR, readMetadata, rng } from './tokenizer-helpers.js';

const require = createRequire(import.meta.url);
const DIST = fileURLToPath(new URL('../../dist/cjs/', import.meta.url));
const MiB = 2 ** 20;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

/** Process RSS after two full collections (instances and buffers that are garbage are gone). */
async function settledRss() {
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage.rss();
}

const mib = (n) => `${(n / MiB).toFixed(1)} MiB`;
const report = (line) => console.log(`# reliability: ${line}`);

/** Runs a completion to the end: token ids, text and the result record. */
async function collect(it) {
  const tokens = [];
  let text = '';
  for (;;) {
    const step = await it.next();
    if (step.done) return { tokens, text, result: step.value };
    if (step.value.token >= 0) tokens.push(step.value.token);
    text += step.value.text;
  }
}

const PROMPT = 'ROMEO:\nBut soft, what light';
const GREEDY = { maxTokens: 24, temperature: 0 };

/** The greedy continuation of `prompt` from a freshly loaded embedded model. */
async function freshGreedy(prompt, options = GREEDY) {
  const model = await loadModel(EMBEDDED, { threads: 1, contextSize: 1024 });
  try {
    return await collect(model.complete(prompt, options));
  } finally {
    model.dispose();
  }
}

/**
 * One st wasm instance that loadModel reuses: a factory handing back the same
 * Emscripten module every time (loadModel's wasmModule/wasmFactory options).
 * A failing load frees what it allocated and "terminates" the instance, which
 * for the single-threaded build stops nothing, so the next load can use it.
 * Without this every load instantiates a fresh 32 MiB heap (~50-90 ms here),
 * and 1000 passes over the corpus would take most of an hour.
 */
async function reusedInstance() {
  const wasmModule = await WebAssembly.compile(fs.readFileSync(path.join(DIST, 'wasmllm-st.wasm')));
  const factory = require(path.join(DIST, 'wasmllm-st.cjs'));
  const M = await factory({
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(wasmModule, imports).then((i) => receive(i, wasmModule));
      return {};
    },
    print: () => {},
    printErr: () => {},
  });
  // Every heap request the JS loader makes, to compare with the file sizes.
  const requests = [];
  // Emscripten's export stubs replace themselves with the raw export on their
  // first call: make that call first, or it would also replace our wrapper.
  M._wl_free(M._wl_alloc(1));
  const alloc = M._wl_alloc;
  const seen = { peakInUse: 0 };
  M._wl_alloc = (n) => {
    requests.push(n);
    const p = alloc(n);
    seen.peakInUse = Math.max(seen.peakInUse, M._wl_heap_in_use());
    return p;
  };
  return { M, requests, seen, options: { wasmModule, wasmFactory: async () => M } };
}

test('the hostile corpus through loadModel 1000 times: exact codes, heap in use and process memory unchanged', { timeout: 600_000 }, async () => {
  const cases = hostileCases().map((c) => ({ ...c, source: c.shards.length === 1 ? c.shards[0] : c.shards,
    bytes: c.shards.reduce((n, s) => n + s.length, 0) }));
  const { M, requests, seen, options } = await reusedInstance();
  const heap = () => ({ inUse: M._wl_heap_in_use(), size: M.HEAPU8.length });

  /** One pass: every case fails with its code; returns the largest heap request per case. */
  const pass = async () => {
    for (const c of cases) {
      requests.length = 0;
      await assert.rejects(loadModel(c.source, options), (e) => {
        assert.ok(e instanceof WasmllmError, `${c.name}: ${e}`);
        assert.equal(e.code, c.code, `${c.name} (${c.why}): ${e.message}`);
        return true;
      });
      c.maxRequest = Math.max(0, ...requests);
    }
  };

  const start = heap();
  await pass(); // warm-up: JIT, tokenizer and parser caches
  assert.deepEqual(heap(), start, 'one pass over the corpus changed the heap');
  // The JS loader never asks for more than a file's own bytes (the shard
  // buffer is exactly the file; the shard table is 16 bytes per shard).
  for (const c of cases) assert.ok(c.maxRequest <= Math.max(c.bytes, 16 * c.shards.length), `${c.name}: asked for ${c.maxRequest} bytes, file has ${c.bytes}`);
  const sharded = cases.filter((c) => c.shards.length > 1);
  assert.ok(sharded.every((c) => c.maxRequest > 0), 'shard sets reach the C parser (their buffers are allocated)');

  // More warm-up: V8 keeps compiling and growing its code space for the
  // first few hundred passes (measured: +7 MiB RSS over 500, then flat), and
  // its young generation grows once, by about 20 MiB, somewhere between pass
  // 600 and 900 through the Node entry (heap used and external memory stay
  // flat, and RSS stays flat over the 4000 passes after it: a step, not a
  // leak). Measure after both.
  for (let i = 0; i < 1000; i++) await pass();
  const rss0 = await settledRss();
  const js0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for (let i = 0; i < 1000; i++) await pass();
  const seconds = (performance.now() - t0) / 1000;
  const end = heap();
  const rss1 = await settledRss();
  const js1 = process.memoryUsage().heapUsed;
  report(`hostile corpus: ${cases.length} cases x 1000 loads in ${seconds.toFixed(1)} s (after 1001 warm-up passes); `
    + `wasm heap in use ${start.inUse} -> ${end.inUse} bytes (up to ${seen.peakInUse} during a load), `
    + `wasm memory ${mib(start.size)} -> ${mib(end.size)}, process RSS ${mib(rss0)} -> ${mib(rss1)}, V8 heap used ${mib(js0)} -> ${mib(js1)}`);
  assert.ok(seen.peakInUse > start.inUse, 'the heap count moved during loads (it measures something)');
  // Every failed load frees every byte it allocated in C and in JS.
  assert.equal(end.inUse, start.inUse, 'wasm heap in use');
  assert.ok(js1 - js0 < 2 * MiB, `V8 heap used grew by ${mib(js1 - js0)}`);
  // The memory never grew past its initial 32 MiB: no hostile file made the
  // C parser allocate anything of the size its counts and lengths claim.
  assert.equal(end.size, start.size, 'wasm memory size');
  // RSS still moves a few MiB with V8's code space and allocator (+2 to +7
  // MiB measured); 16 MiB over 30,000 loads is 560 bytes per load, less than
  // any leaked wasm instance, heap buffer or error record would cost.
  // Small JS leaks show in V8's heap above: 30,000 leaked copies of even the
  // smallest file (88 bytes) would be 2.5 MiB there.
  assert.ok(rss1 - rss0 < 16 * MiB, `process RSS grew by ${mib(rss1 - rss0)}`);
});

test('the hostile corpus through loadModel with a fresh wasm instance per load (the default): memory returns', { timeout: 300_000 }, async () => {
  const cases = hostileCases();
  const once = async () => {
    for (const c of cases) {
      await assert.rejects(loadModel(c.shards.length === 1 ? c.shards[0] : c.shards, { threads: 1 }), { code: c.code });
    }
  };
  await once();
  const rss0 = await settledRss();
  const passes = 4;
  for (let i = 0; i < passes; i++) await once();
  const rss1 = await settledRss();
  report(`hostile corpus, fresh st instance per load: ${cases.length * passes} loads, process RSS ${mib(rss0)} -> ${mib(rss1)}`);
  // Each instance has a 32 MiB heap: keeping even a tenth of them alive would add > 300 MiB.
  assert.ok(rss1 - rss0 < 48 * MiB, `process RSS grew by ${mib(rss1 - rss0)} over ${cases.length * passes} failed loads`);
});

test('aborting mid-stream leaves the model usable: the next greedy text equals a fresh model\'s', async () => {
  const reference = await freshGreedy(PROMPT);
  const other = await freshGreedy('JULIET:\nO Romeo, Romeo');
  const model = await loadModel(EMBEDDED, { threads: 2, contextSize: 1024 });
  try {
    const controller = new AbortController();
    const seen = [];
    await assert.rejects(async () => {
      for await (const { token } of model.complete(PROMPT, { ...GREEDY, signal: controller.signal })) {
        seen.push(token);
        if (seen.length === 5) controller.abort();
      }
    }, { code: 'ERR_ABORTED' });
    assert.deepEqual(seen, reference.tokens.slice(0, 5));
    assert.equal((await collect(model.complete(PROMPT, GREEDY))).text, reference.text);
    assert.equal((await collect(model.complete('JULIET:\nO Romeo, Romeo', GREEDY))).text, other.text);
  } finally {
    model.dispose();
  }
});

test('aborting mid-prompt (after the first prompt batch) leaves the model usable', async () => {
  const longPrompt = 'ROMEO:\n' + 'What light through yonder window breaks? It is the east, and Juliet is the sun. '.repeat(20);
  const reference = await freshGreedy(longPrompt);
  const model = await loadModel(EMBEDDED, { threads: 2, contextSize: 1024 });
  try {
    const n = model.tokenize(longPrompt).length;
    assert.ok(n > 3 * PROMPT_BATCH, `the prompt needs several batches (${n} tokens)`);
    const controller = new AbortController();
    // Prompt chunks run one per macrotask (web/scheduler.js): the first in
    // the turn after next(), the second in the turn after that. An abort
    // queued for that second turn before the scheduler's step runs first, so
    // the prompt stops right after one batch.
    setImmediate(() => setImmediate(() => controller.abort()));
    await assert.rejects(model.complete(longPrompt, { ...GREEDY, signal: controller.signal }).next(), { code: 'ERR_ABORTED' });
    // Exactly one batch stayed in the KV cache: the same prompt evaluates the rest.
    const again = await collect(model.complete(longPrompt, GREEDY));
    assert.equal(again.result.promptEvaluated, n - PROMPT_BATCH);
    assert.equal(again.text, reference.text);
    // And a different prompt after another mid-prompt abort.
    const c2 = new AbortController();
    setImmediate(() => c2.abort());
    await assert.rejects(model.complete(`JULIET:\n${longPrompt}`, { ...GREEDY, signal: c2.signal }).next(), { code: 'ERR_ABORTED' });
    assert.equal((await collect(model.complete(PROMPT, GREEDY))).text, (await freshGreedy(PROMPT)).text);
  } finally {
    model.dispose();
  }
});

test('aborting mid-load (a URL served slowly) frees everything; the next load works', { timeout: 120_000 }, async () => {
  const bytes = fs.readFileSync(EMBEDDED);
  const CHUNK = 256 * 1024;
  let closedEarly = 0;
  let sentBeforeClose = 0;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
    let pos = 0;
    const timer = setInterval(() => {
      if (pos >= bytes.length) { clearInterval(timer); res.end(); return; }
      res.write(bytes.subarray(pos, pos + CHUNK));
      pos += CHUNK;
    }, 20);
    res.on('close', () => {
      clearInterval(timer);
      if (pos < bytes.length) { closedEarly++; sentBeforeClose = pos; }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/shakespeare.gguf`;
  try {
    const rss0 = await settledRss();
    for (let i = 0; i < 3; i++) {
      const controller = new AbortController();
      let seen = 0;
      await assert.rejects(loadModel(url, {
        threads: 1, signal: controller.signal,
        onProgress: ({ loaded }) => { seen = loaded; if (loaded >= 2 * MiB) controller.abort(); },
      }), { code: 'ERR_ABORTED' });
      assert.ok(seen >= 2 * MiB && seen < bytes.length, `aborted after ${seen} bytes`);
    }
    // The server saw each download cancelled before its end.
    for (let i = 0; i < 50 && closedEarly < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(closedEarly, 3, 'each aborted download closed its connection');
    assert.ok(sentBeforeClose < bytes.length);
    const rss1 = await settledRss();
    report(`3 loads aborted mid-download: process RSS ${mib(rss0)} -> ${mib(rss1)}`);
    assert.ok(rss1 - rss0 < 48 * MiB, `process RSS grew by ${mib(rss1 - rss0)}`);
    // The same URL loads completely afterwards and generates the fresh model's text.
    const model = await loadModel(url, { threads: 1, contextSize: 1024 });
    try {
      assert.equal((await collect(model.complete(PROMPT, GREEDY))).text, (await freshGreedy(PROMPT)).text);
    } finally {
      model.dispose();
    }
  } finally {
    server.close();
  }
});

test('1000 generate/abort cycles: heap in use identical after warm-up, process memory flat, text unchanged', { timeout: 600_000 }, async () => {
  const prompts = [PROMPT, 'JULIET:\nO Romeo, Romeo', 'KING HENRY:\nOnce more unto the breach'];
  const references = [];
  for (const p of prompts) references.push((await freshGreedy(p)).text);
  const model = await loadModel(EMBEDDED, { threads: 1, contextSize: 256 });
  try {
    /** Cycle i: abort after 1-4 tokens, or before any token (an already aborted signal), or mid-prompt. */
    const cycle = async (i) => {
      const controller = new AbortController();
      const after = i % 6; // 0: mid-prompt, 5: aborted up front, else after that many tokens
      if (after === 5) controller.abort();
      if (after === 0) setImmediate(() => controller.abort());
      // The prompt changes every 250 cycles: most cycles reuse the cached
      // prefix and decode only a few tokens, which keeps 1000 cycles quick.
      const it = model.complete(prompts[Math.floor(i / 250) % prompts.length], { ...GREEDY, temperature: i % 2 ? 0 : 0.8, seed: i, signal: controller.signal });
      let n = 0;
      try {
        for (;;) {
          const step = await it.next();
          if (step.done) return 'finished'; // a sampled run that reached an end-of-text token first
          if (++n === after) controller.abort();
        }
      } catch (e) {
        if (e?.code !== 'ERR_ABORTED') throw e;
        return 'aborted';
      }
    };
    for (let i = 0; i < 30; i++) await cycle(i); // warm-up
    const m0 = model.memory();
    const rss0 = await settledRss();
    const t0 = performance.now();
    let aborted = 0;
    for (let i = 30; i < 1030; i++) if (await cycle(i) === 'aborted') aborted++;
    assert.ok(aborted >= 990, `only ${aborted} of 1000 cycles were aborted`);
    const seconds = (performance.now() - t0) / 1000;
    const m1 = model.memory();
    const rss1 = await settledRss();
    report(`1000 generate/abort cycles (${aborted} aborted) in ${seconds.toFixed(1)} s: wasm heap in use ${m0.heapInUseBytes} -> ${m1.heapInUseBytes} bytes, `
      + `wasm memory ${mib(m0.heapBytes)} -> ${mib(m1.heapBytes)}, process RSS ${mib(rss0)} -> ${mib(rss1)}`);
    assert.equal(m1.heapInUseBytes, m0.heapInUseBytes, 'every sampler and buffer of an aborted run is freed');
    assert.equal(m1.heapBytes, m0.heapBytes, 'the wasm memory did not grow');
    // RSS follows V8's heap (completion records, closures) and JIT code; a
    // leaked sampler or KV cache copy per cycle would be far above this.
    assert.ok(rss1 - rss0 < 24 * MiB, `process RSS grew by ${mib(rss1 - rss0)}`);
    for (let k = 0; k < prompts.length; k++) {
      assert.equal((await collect(model.complete(prompts[k], GREEDY))).text, references[k], `after the cycles: ${prompts[k]}`);
    }
  } finally {
    model.dispose();
  }
});

/** Random string over all of Unicode: any plane, no lone surrogates. */
function randomCodePoints(next, len) {
  let s = '';
  for (let i = 0; i < len; i++) {
    const r = next();
    // Mostly the BMP (where the scripts are), a fifth from the astral planes.
    let cp = r < 0.8 ? Math.floor(next() * 0x10000) : 0x10000 + Math.floor(next() * 0x100000);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x20 + (cp & 0x3f);
    s += String.fromCodePoint(cp);
  }
  return s;
}

const BYTE_LEVEL = ['gpt-2', 'deepseek-coder'];
const vocabPresent = BYTE_LEVEL.every((n) => fs.existsSync(path.join(VOCAB_DIR, `ggml-vocab-${n}.gguf`)));

for (const name of BYTE_LEVEL) {
  test(`${name} (byte-level BPE): decode(encode(x)) === x for random code points of every plane and random bytes`,
    { skip: !vocabPresent && `${VOCAB_DIR} is missing` }, () => {
      const tok = createTokenizer(readMetadata(path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`)));
      const next = rng(name === 'gpt-2' ? 11 : 13);
      const dec = new TextDecoder();
      for (let i = 0; i < 600; i++) {
        const text = i % 2
          ? randomCodePoints(next, 1 + Math.floor(next() * 48))
          // Random bytes, as text: invalid sequences become U+FFFD, which must survive too.
          : dec.decode(Uint8Array.from({ length: 1 + Math.floor(next() * 64) }, () => Math.floor(next() * 256)));
        const ids = tok.encode(text, { addSpecial: false, parseSpecial: false });
        assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.nVocab), JSON.stringify(text));
        assert.equal(tok.decode(ids), text, JSON.stringify(text));
      }
    });
}

test('no tokenizer throws on any input: arbitrary UTF-16 (lone surrogates), control text, random ids to decode',
  { skip: !vocabPresent && `${VOCAB_DIR} is missing` }, () => {
    const next = rng(2024);
    for (const name of ['llama-spm', 'gpt-2', 'deepseek-coder', 'bert-bge', 'phi-3']) {
      const tok = createTokenizer(readMetadata(path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`)));
      for (let i = 0; i < 200; i++) {
        let s = '';
        const len = Math.floor(next() * 40);
        for (let k = 0; k < len; k++) s += String.fromCharCode(Math.floor(next() * 0x10000));
        if (i % 4 === 0) s += '<s></s><|endoftext|><|im_start|>[CLS]'.slice(0, Math.floor(next() * 36));
        for (const parseSpecial of [false, true]) {
          const ids = tok.encode(s, { addSpecial: i % 2 === 0, parseSpecial });
          assert.ok(ids.every((id) => Number.isInteger(id) && id >= 0 && id < tok.nVocab), `${name} ${JSON.stringify(s)}`);
        }
        const randomIds = Array.from({ length: Math.floor(next() * 24) }, () => Math.floor(next() * tok.nVocab));
        assert.equal(typeof tok.decode(randomIds), 'string');
        assert.equal(typeof tok.decode(randomIds, { showSpecial: true }), 'string');
        const stream = tok.createStreamDecoder();
        let streamed = '';
        for (const id of randomIds) streamed += stream.push(id);
        streamed += stream.flush();
        assert.equal(typeof streamed, 'string');
      }
    }
  });
