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
import { SHARED_DIR } from '../tools/shared-data.js';

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

// The tokenizer vectors, chat templates and vocabularies most suites read:
// without them every such test fails on its own ENOENT, so say it once.
if (!fs.existsSync(path.join(SHARED_DIR, 'data', 'vocab'))) {
  console.error(`run-all: the shared reference data is missing: ${path.join(SHARED_DIR, 'data', 'vocab')} does not exist `
    + '(it is ../shared next to the checkout; set WASMLLM_SHARED to its folder when the checkout is elsewhere)');
  process.exit(1);
}

let failed = false;

/** Runs one step with output passed through; a failure is reported and remembered, not fatal. */
function step(what, cmd, args, env = process.env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    console.error(`run-all: ${what} FAILED (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
    failed = true;
  }
  return r.status === 0;
}

/** ctest in a build folder that tools/setup.js made (`setupFlags` builds it). */
function ctestIn(dir, what, setupFlags) {
  const abs = path.join(root, dir);
  if (!fs.existsSync(path.join(abs, 'CTestTestfile.cmake'))) {
    console.error(`run-all: ${dir} is missing: run \`node tools/setup.js${setupFlags}\` first`);
    failed = true;
    return;
  }
  console.log(`run-all: ${what}`);
  step(what, 'ctest', ['--test-dir', abs, '--output-on-failure', '-j2']);
}

ctestIn('build/native', 'ctest (native C tests)', '');
// The same C tests under AddressSanitizer + UndefinedBehaviorSanitizer (setup builds build/asan with --test).
ctestIn('build/asan', 'ctest under ASan + UBSan (build/asan)', ' --test');

// The C tests again, compiled with emcc -msimd128 (pthreads and single-threaded) and run under
// node: the only place the SIMD128 kernels meet their scalar twins (test_simd_twins).
console.log('run-all: C tests as wasm SIMD128 under node (tools/run-wasm-ctest.sh)');
step('wasm C tests', 'sh', ['tools/run-wasm-ctest.sh'], { ...process.env, WL_WASM_TEST_DIR: path.join(root, 'build/wasm-ctest') });

// The kernel tests again as the relaxed-SIMD build (clang-19, -mrelaxed-simd) under Node 22, the
// test-only reference binary in tests/ref/node22 (Node 20 runs relaxed SIMD wrongly): its kernels
// against their scalar twins, bit for bit.
const node22 = path.join(root, 'tests/ref/node22/bin/node');
if (fs.existsSync(node22)) {
  console.log('run-all: kernel C tests as wasm relaxed SIMD under node 22 (tools/run-wasm-ctest.sh)');
  step('wasm relaxed-SIMD C tests', 'sh', ['tools/run-wasm-ctest.sh', 'simd_twins,matmul,kv_cache'],
    { ...process.env, WL_WASM_ISA: 'relaxed', WL_NODE: node22, WL_WASM_TEST_DIR: path.join(root, 'build/wasm-ctest-relaxed') });
} else {
  console.error(`run-all: ${node22} is missing: run \`node tools/setup.js --test\` first`);
  failed = true;
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
  if (step('fuzzing', 'bash', ['tools/fuzz.sh', String(Math.ceil(fuzzSeconds)), path.join(root, 'build/fuzz')])) {
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
