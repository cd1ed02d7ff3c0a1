// The hostile GGUF corpus (tools/make-hostile-ggufs.js) against both
// parsers: web/gguf.js must reject each single file, and the C parser in the
// wasm build (wl_file_open) must reject each file or shard set, with the
// code the corpus names. Valid inputs must still open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hostileCases, validCases } from '../../tools/make-hostile-ggufs.js';
import { parseGGUF } from '../../web/gguf.js';
import { codeFromStatus } from '../../web/errors.js';

const require = createRequire(import.meta.url);
const distDir = process.env.WASMLLM_DIST
  ? `${process.env.WASMLLM_DIST.replace(/\/$/, '')}/cjs/`
  : fileURLToPath(new URL('../../dist/cjs/', import.meta.url));
const wasmPresent = existsSync(`${distDir}wasmllm-st.wasm`) && existsSync(`${distDir}wasmllm-st.cjs`);

async function startSt() {
  const wasmModule = await WebAssembly.compile(readFileSync(`${distDir}wasmllm-st.wasm`));
  return require(`${distDir}wasmllm-st.cjs`)({
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(wasmModule, imports).then((i) => receive(i, wasmModule));
      return {};
    },
    print: () => {},
    printErr: () => {},
  });
}

/** Opens the shards through the C API; returns the error code string ('OK' on success). */
function openWithC(m, shards) {
  const ptrs = shards.map((s) => {
    const p = m._wl_alloc(s.length);
    m.HEAPU8.set(s, p);
    return p;
  });
  const table = m._wl_alloc(4 * shards.length);
  const lens = m._wl_alloc(8 * shards.length);
  const view = new DataView(m.HEAPU8.buffer);
  shards.forEach((s, i) => {
    view.setUint32(table + 4 * i, ptrs[i], true);
    view.setFloat64(lens + 8 * i, s.length, true);
  });
  const err = m._wl_error_new();
  const file = m._wl_file_open(table, lens, shards.length, 0, err);
  const code = codeFromStatus(m._wl_error_code(err));
  const message = m.UTF8ToString(m._wl_error_message(err));
  if (file) m._wl_file_free(file);
  for (const p of [err, lens, table, ...ptrs]) m._wl_free(p);
  return { code, message, opened: file !== 0 };
}

test('web/gguf.js rejects every hostile single file with its code', () => {
  for (const c of hostileCases().filter((h) => h.shards.length === 1)) {
    assert.throws(() => parseGGUF(c.shards[0]), (e) => e.code === c.code, `${c.name}: ${c.why}`);
    // The model loader's mode (string arrays packed) checks the same things.
    assert.throws(() => parseGGUF(c.shards[0], { packStrings: true }), (e) => e.code === c.code, `${c.name} (packStrings): ${c.why}`);
  }
});

test('the C parser (wasm st build) rejects every hostile case with its code',
  { skip: !wasmPresent && 'dist/cjs not built (npm run build)' }, async () => {
    const m = await startSt();
    for (const c of hostileCases()) {
      const r = openWithC(m, c.shards);
      assert.equal(r.opened, false, `${c.name} opened`);
      assert.equal(r.code, c.code, `${c.name} (${c.why}): ${r.message}`);
      assert.ok(r.message.length > 0, `${c.name}: empty message`);
    }
    for (const c of validCases()) {
      const r = openWithC(m, c.shards);
      assert.equal(r.opened, true, `${c.name}: ${r.message}`);
      // Any order of the shards is the same set.
      if (c.shards.length > 1) assert.equal(openWithC(m, [...c.shards].reverse()).opened, true);
    }
  });
