#!/usr/bin/env node
/**
 * What `npm test` runs after tools/setup.js --test: the native C tests
 * (ctest in build/native, then again under ASan + UBSan in build/asan, then
 * built for wasm SIMD128 and run under node), the
 * libFuzzer targets for WASMLLM_FUZZ_SECONDS each (default 45, 0 skips),
 * then every node:test file under tests/node,
 * tests/parity and, when present, tests/browser and tests/edge. Output
 * streams as it comes; the exit code is non-zero if anything failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODE_TEST_DIRS = ['tests/node', 'tests/parity', 'tests/browser', 'tests/edge'];

/** @param {string} dir @returns {string[]} test files, sorted */
function testFiles(dir) {
  const out = [];
  const visit = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory() && e.name !== 'node_modules' && e.name !== 'fixtures') visit(p);
      else if (e.isFile() && /\.test\.(m?js|cjs)$/.test(e.name)) out.push(p);
    }
  };
  if (fs.existsSync(dir)) visit(dir);
  return out.sort();
}

let failed = false;

const nativeDir = path.join(root, 'build/native');
if (!fs.existsSync(path.join(nativeDir, 'CTestTestfile.cmake'))) {
  console.error('run-all: build/native is missing: run `node tools/setup.js` first');
  failed = true;
} else {
  console.log('run-all: ctest (native C tests)');
  const r = spawnSync('ctest', ['--test-dir', nativeDir, '--output-on-failure', '-j2'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`run-all: ctest FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    failed = true;
  }
}

// The same C tests under AddressSanitizer + UndefinedBehaviorSanitizer (setup builds build/asan with --test).
const asanDir = path.join(root, 'build/asan');
if (!fs.existsSync(path.join(asanDir, 'CTestTestfile.cmake'))) {
  console.error('run-all: build/asan is missing: run `node tools/setup.js --test` first');
  failed = true;
} else {
  console.log('run-all: ctest under ASan + UBSan (build/asan)');
  const r = spawnSync('ctest', ['--test-dir', asanDir, '--output-on-failure', '-j2'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`run-all: sanitizer ctest FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    failed = true;
  }
}

// The C tests again, compiled with emcc -msimd128 (pthreads and single-threaded) and run under
// node: the only place the SIMD128 kernels meet their scalar twins (test_simd_twins).
console.log('run-all: C tests as wasm SIMD128 under node (tools/run-wasm-ctest.sh)');
{
  const r = spawnSync('sh', ['tools/run-wasm-ctest.sh'], {
    cwd: root, stdio: 'inherit', env: { ...process.env, WL_WASM_TEST_DIR: path.join(root, 'build/wasm-ctest') },
  });
  if (r.status !== 0) {
    console.error(`run-all: wasm C tests FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    failed = true;
  }
}

// Each libFuzzer target for a bounded time from the committed seeds (tools/fuzz.sh prints executions per target).
const fuzzEnv = process.env.WASMLLM_FUZZ_SECONDS;
const fuzzSeconds = fuzzEnv === undefined || fuzzEnv === '' ? 45 : Number(fuzzEnv);
if (!(fuzzSeconds >= 0)) {
  console.error(`run-all: WASMLLM_FUZZ_SECONDS must be a number of seconds, got ${fuzzEnv}`);
  failed = true;
} else if (fuzzSeconds === 0) {
  console.log('run-all: fuzzing skipped (WASMLLM_FUZZ_SECONDS=0)');
} else {
  console.log(`run-all: fuzzing each target for ${fuzzSeconds} s (WASMLLM_FUZZ_SECONDS)`);
  const r = spawnSync('bash', ['tools/fuzz.sh', String(Math.ceil(fuzzSeconds)), path.join(root, 'build/fuzz')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`run-all: fuzzing FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    failed = true;
  } else {
    console.log('run-all: fuzzing found no crash');
  }
}

const files = NODE_TEST_DIRS.flatMap((d) => testFiles(path.join(root, d)));
console.log(`run-all: node --test (${files.length} files in ${NODE_TEST_DIRS.filter((d) => fs.existsSync(path.join(root, d))).join(', ')})`);
if (failed) console.log('run-all: note: a C step failed above; the exit code will be non-zero');
// A test that hangs (a deadlocked thread pool, say) fails after 15 minutes instead of hanging npm test.
const r = spawnSync(process.execPath, ['--test', '--test-timeout=900000', ...files.map((f) => path.relative(root, f))], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) failed = true;
process.exit(failed ? 1 : 0);
