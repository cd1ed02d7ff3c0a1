// Differential test of the two GGUF parsers (docs/DESIGN.md: GGUF is parsed
// twice, in JS and in C, and both must refuse the same files). Every
// single-byte mutation and every prefix of small valid and hostile files goes
// through web/gguf.js and through wl_file_open in the wasm st build; they must
// agree on accept versus reject, with and without allow_no_data, and JS's
// packStrings mode must give the same outcome as its string[] mode. (Which code
// they name may differ when a mutation breaks two rules at once: each parser
// reports the first it checks.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { hostileCases, validCases } from '../../tools/make-hostile-ggufs.js';
import { parseGGUF } from '../../web/gguf.js';

const require = createRequire(import.meta.url);
const distDir = process.env.WASMLLM_DIST
  ? `${process.env.WASMLLM_DIST.replace(/\/$/, '')}/cjs/`
  : fileURLToPath(new URL('../../dist/cjs/', import.meta.url));
const present = existsSync(`${distDir}wasmllm-st.wasm`) && existsSync(`${distDir}wasmllm-st.cjs`);

/** Every prefix, and each byte set to 0x00, 0xff and flipped in its low bit. */
function* variants(file) {
  for (let n = 0; n < file.length; n++) yield file.subarray(0, n);
  for (let i = 0; i < file.length; i++) {
    for (const v of [0x00, 0xff, file[i] ^ 1]) {
      if (v === file[i]) continue;
      const m = file.slice();
      m[i] = v;
      yield m;
    }
  }
}

test('web/gguf.js and the C parser accept and reject the same files',
  { skip: !present && 'dist/cjs not built (npm run build)' }, async (t) => {
    const wasmModule = await WebAssembly.compile(readFileSync(`${distDir}wasmllm-st.wasm`));
    const m = await require(`${distDir}wasmllm-st.cjs`)({
      instantiateWasm(imports, receive) {
        WebAssembly.instantiate(wasmModule, imports).then((i) => receive(i, wasmModule));
        return {};
      },
      print() {},
      printErr() {},
    });
    const table = m._wl_alloc(16);
    const err = m._wl_error_new();
    const cAccepts = (bytes, allowNoData) => {
      const p = m._wl_alloc(bytes.length);
      m.HEAPU8.set(bytes, p);
      const view = new DataView(m.HEAPU8.buffer);
      view.setUint32(table, p, true);
      view.setFloat64(table + 8, bytes.length, true);
      const file = m._wl_file_open(table, table + 8, 1, allowNoData ? 1 : 0, err);
      if (file) m._wl_file_free(file);
      m._wl_free(p);
      return file !== 0;
    };
    const jsOutcome = (bytes, options) => {
      try {
        parseGGUF(bytes, options);
        return 'accept';
      } catch (e) {
        if (!e.code) throw e; // a crash, not a refusal
        return e.code;
      }
    };
    // The loader parses with packStrings (string arrays packed): both JS modes must refuse alike.
    const jsAccepts = (bytes, allowNoData) => {
      const plain = jsOutcome(bytes, { allowNoData });
      const packed = jsOutcome(bytes, { allowNoData, packStrings: true });
      if (plain !== packed) assert.fail(`packStrings changes the outcome (${plain} vs ${packed}) on ${Buffer.from(bytes).toString('hex')}`);
      return plain === 'accept';
    };
    const files = [...validCases(), ...hostileCases()].filter((c) => c.shards.length === 1).map((c) => c.shards[0]);
    let checked = 0, accepted = 0;
    for (const file of files) {
      for (const bytes of variants(file)) {
        for (const allowNoData of [false, true]) {
          const js = jsAccepts(bytes, allowNoData);
          const c = cAccepts(bytes, allowNoData);
          if (js !== c) {
            assert.fail(`parsers disagree (js ${js}, C ${c}, allowNoData ${allowNoData}) on ${Buffer.from(bytes).toString('hex')}`);
          }
          checked++;
          if (c) accepted++;
        }
      }
    }
    m._wl_error_free(err);
    m._wl_free(table);
    assert.ok(checked > 10000 && accepted > 100, `${checked} inputs, ${accepted} accepted`);
    t.diagnostic(`${checked} inputs, ${accepted} accepted by both`);
  });
