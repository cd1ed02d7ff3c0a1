// Smoke test of the Node (CommonJS) wasm builds: each loads through
// createRequire with the compiled module handed in (Emscripten's own fetch of
// a file path fails on Node 18+), the mt build starts its pthread pool, and
// the exported memory, error and file functions answer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
// WASMLLM_DIST points at another build's output folder (a scratch build).
const distDir = process.env.WASMLLM_DIST
  ? `${process.env.WASMLLM_DIST.replace(/\/$/, '')}/cjs/`
  : fileURLToPath(new URL('../../dist/cjs/', import.meta.url));

/** Starts one variant with `poolSize` preloaded pthread workers. */
async function start(variant, poolSize) {
  const wasmModule = await WebAssembly.compile(readFileSync(`${distDir}wasmllm-${variant}.wasm`));
  const factory = require(`${distDir}wasmllm-${variant}.cjs`);
  return factory({
    wlPoolSize: poolSize,
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(wasmModule, imports).then((instance) => receive(instance, wasmModule));
      return {};
    },
    print: () => {},
    printErr: () => {},
  });
}

/** Function names declared in src/wasmllm.h (the exported C API). */
function declaredApi() {
  const header = readFileSync(new URL('../../src/wasmllm.h', import.meta.url), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '');
  return [...new Set([...header.matchAll(/\b(wl_[a-z0-9_]+)\s*\(/g)].map((m) => m[1]))];
}

test('wasm/exports.json lists every function of src/wasmllm.h, and malloc/free', () => {
  const exported = new Set(JSON.parse(readFileSync(new URL('../../wasm/exports.json', import.meta.url), 'utf8')));
  const missing = declaredApi().filter((name) => !exported.has(`_${name}`));
  assert.deepEqual(missing, []);
  assert.ok(exported.has('_malloc') && exported.has('_free'));
});

/** Bytes of a tiny valid GGUF v3: one key, one F32[4] tensor with data. */
function tinyGGUF() {
  const parts = [];
  const u32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v); parts.push(b); };
  const u64 = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); parts.push(b); };
  const str = (s) => { u64(Buffer.byteLength(s)); parts.push(Buffer.from(s)); };
  parts.push(Buffer.from('GGUF'));
  u32(3); u64(1); u64(1);
  str('general.name'); u32(8); str('smoke');
  str('w'); u32(1); u64(4); u32(0); u64(0);
  let len = parts.reduce((n, p) => n + p.length, 0);
  parts.push(Buffer.alloc((32 - (len % 32)) % 32));
  const data = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) data.writeFloatLE(i + 0.5, i * 4);
  parts.push(data);
  return Buffer.concat(parts);
}

/** Copies the file into the wasm heap and opens it through the C API. */
function openInHeap(m, bytes) {
  const heap = () => new Uint8Array(m.wasmMemory ? m.wasmMemory.buffer : m.HEAPU8.buffer);
  const buf = m._wl_alloc(bytes.length);
  assert.notEqual(buf, 0);
  heap().set(bytes, buf);
  const shards = m._wl_alloc(4);
  const lens = m._wl_alloc(8);
  new DataView(heap().buffer).setUint32(shards, buf, true);
  new DataView(heap().buffer).setFloat64(lens, bytes.length, true);
  const err = m._wl_error_new();
  const file = m._wl_file_open(shards, lens, 1, 0, err);
  const result = { file, code: m._wl_error_code(err), message: m.UTF8ToString(m._wl_error_message(err)) };
  if (file) m._wl_file_free(file);
  for (const p of [err, lens, shards, buf]) m._wl_free(p);
  m._wl_error_free(0);
  return result;
}

for (const variant of ['st', 'mt']) {
  const files = existsSync(`${distDir}wasmllm-${variant}.wasm`) && existsSync(`${distDir}wasmllm-${variant}.cjs`);
  test(`${variant} build also starts from wasmBinary bytes`, { skip: !files && 'dist/cjs not built' }, async () => {
    const factory = require(`${distDir}wasmllm-${variant}.cjs`);
    const m = await factory({ wasmBinary: readFileSync(`${distDir}wasmllm-${variant}.wasm`), wlPoolSize: 1, print() {}, printErr() {} });
    try {
      const p = m._wl_alloc(64);
      assert.notEqual(p, 0);
      m._wl_free(p);
    } finally {
      m.PThread?.terminateAllThreads();
    }
  });
}

for (const variant of ['st', 'mt']) {
  const present = existsSync(`${distDir}wasmllm-${variant}.wasm`) && existsSync(`${distDir}wasmllm-${variant}.cjs`);
  test(`${variant} build loads and answers the C API`, { skip: !present && 'dist/cjs not built (npm run build)' }, async () => {
    const m = await start(variant, variant === 'mt' ? 2 : 0);
    try {
      if (variant === 'mt') {
        assert.ok(m.PThread, 'mt build has a pthread runtime');
        assert.equal(m.PThread.unusedWorkers.length, 2, 'two workers preloaded from wlPoolSize');
        assert.ok(m.PThread.unusedWorkers.every((w) => w.loaded), 'pool workers finished loading the module');
      }
      for (const name of declaredApi()) assert.equal(typeof m[`_${name}`], 'function', `_${name} not exported`);
      const p = m._wl_alloc(1 << 20);
      assert.notEqual(p, 0);
      m._wl_free(p);
      const ok = openInHeap(m, tinyGGUF());
      assert.notEqual(ok.file, 0, ok.message);
      assert.equal(ok.code, 0);
      const bad = tinyGGUF();
      bad.write('GGML', 0);
      const rejected = openInHeap(m, bad);
      assert.equal(rejected.file, 0);
      assert.equal(rejected.code, 2 /* WL_ERR_BAD_MAGIC */);
      assert.match(rejected.message, /GGUF/);
    } finally {
      m.PThread?.terminateAllThreads();
    }
  });
}
