// Memory limits (issue #8, item 4): wasm32's heap holds at most 4 GiB. A
// model or a context that cannot fit is refused BEFORE anything is allocated
// for it (a failed attempt would leave the wasm memory grown for good: it
// never shrinks), with ERR_OOM and the sizes in the message; what was loaded
// before stays usable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadModel } from '../../web/node/index.js';
import { EMBEDDED, tempDir, tinyModel } from './runtime-fixtures.js';

/** -sMAXIMUM_MEMORY=4GB: the last 64 KiB page is not addressable by wasm32. */
const MAX_HEAP = 4294901760;
const GREEDY = { maxTokens: 16, temperature: 0 };
const PROMPT = 'ROMEO:\nBut soft';

async function greedyText(model) {
  let text = '';
  for await (const { text: t } of model.complete(PROMPT, GREEDY)) text += t;
  return text;
}

/** KV cache bytes per position: K and V rows (f16) of every layer. */
function kvBytesPerPosition(model) {
  const md = model.metadata;
  const arch = md.get('general.architecture');
  const info = model.info();
  const headDimK = md.get(`${arch}.attention.key_length`) ?? info.embeddingLength / info.heads;
  const headDimV = md.get(`${arch}.attention.value_length`) ?? info.embeddingLength / info.heads;
  return info.layers * info.headsKv * (headDimK + headDimV) * 2;
}

test('a context whose KV cache cannot fit: ERR_OOM naming the bytes, before allocating any of it', async () => {
  const model = await loadModel(EMBEDDED, { threads: 1, contextSize: 256 });
  try {
    const expected = await greedyText(model);
    const perPos = kvBytesPerPosition(model);
    const before = model.memory();
    const refusals = [];
    // 10M positions (40 GB for this model); and just enough that the KV cache
    // alone would fill the heap, which the weights already share.
    for (const n of [10_000_000, Math.ceil(MAX_HEAP / perPos)]) {
      assert.throws(() => model.createSession({ contextSize: n }), (e) => {
        assert.equal(e.code, 'ERR_OOM', e.message);
        assert.ok(e.message.includes(`a ${n}-token context`), e.message);
        assert.ok(e.message.includes(`KV cache ${perPos * n}`), `names the KV cache bytes (${perPos * n}): ${e.message}`);
        const left = Number(/heap has (\d+) bytes left/.exec(e.message)?.[1]);
        assert.ok(left > 0 && left < MAX_HEAP - before.heapInUseBytes + 1, `names the bytes left: ${e.message}`);
        refusals.push(e.message);
        return true;
      });
      // Refused before allocation: the wasm memory did not grow, nothing stayed allocated.
      assert.deepEqual(model.memory(), before);
    }
    for (const m of refusals) console.log(`# memory-limits: ${m}`);
    assert.equal(await greedyText(model), expected, 'the model is unaffected');
    // A context that fits is still granted.
    const session = model.createSession({ contextSize: 4096 });
    assert.equal(session.contextSize, 4096);
    session.dispose();
  } finally {
    model.dispose();
  }
  // The same through loadModel (its own instance).
  await assert.rejects(loadModel(EMBEDDED, { threads: 1, contextSize: 10_000_000 }), (e) => {
    assert.equal(e.code, 'ERR_OOM', e.message);
    assert.match(e.message, /a 10000000-token context needs \d+ bytes \(KV cache \d+, scratch \d+\)/);
    return true;
  });
});

test('a model larger than the heap: ERR_OOM with the sizes, before any byte is read into the heap', async () => {
  const dir = tempDir();
  // Sparse files (the tail is zeros that take no disk): one of 4.5 GiB, and
  // two shards of 2.5 GiB that each fit but not together.
  const big = path.join(dir, 'too-big.gguf');
  const shards = [path.join(dir, 'half-a.gguf'), path.join(dir, 'half-b.gguf')];
  fs.copyFileSync(tinyModel(), big);
  fs.truncateSync(big, 4.5 * 2 ** 30);
  for (const s of shards) {
    fs.copyFileSync(tinyModel(), s);
    fs.truncateSync(s, 2.5 * 2 ** 30);
  }
  try {
    for (const [source, total] of [[big, 4.5 * 2 ** 30], [shards, 5 * 2 ** 30]]) {
      let progressed = 0;
      await assert.rejects(loadModel(source, { threads: 1, onProgress: ({ loaded }) => { progressed = loaded; } }), (e) => {
        assert.equal(e.code, 'ERR_OOM', e.message);
        assert.ok(e.message.includes(`${total} bytes`), `names the model's size: ${e.message}`);
        assert.ok(e.message.includes(`${MAX_HEAP} bytes`), `names the heap limit: ${e.message}`);
        console.log(`# memory-limits: ${e.message}`);
        return true;
      });
      assert.equal(progressed, 0, 'refused before reading any byte');
    }
  } finally {
    for (const f of [big, ...shards]) fs.rmSync(f, { force: true });
  }
});
