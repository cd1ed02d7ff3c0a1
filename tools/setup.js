#!/usr/bin/env node
/**
 * Makes a fresh clone runnable: `npm start` and `npm test` call this first.
 * Idempotent and quick when nothing changed: each step is skipped when its
 * outputs are newer than its inputs.
 *
 *   node tools/setup.js               emscripten, npm deps, native + wasm builds
 *   node tools/setup.js --build-only  the same (named for `npm run build`)
 *   node tools/setup.js --test        also the test-only references (tests/ref) and,
 *                                     if browser tests exist, Chromium
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const known = new Set(['--test', '--build-only', '--force']);
for (const a of args) {
  if (!known.has(a)) {
    console.error(`setup: unknown option ${a} (use --test, --build-only, --force)`);
    process.exit(2);
  }
}
const force = args.has('--force');
const JOBS = '-j2';
const EMSCRIPTEN_ENV = { ...process.env, NODE_PATH: process.env.NODE_PATH ?? '/usr/share/nodejs' };

const log = (msg) => console.log(`setup: ${msg}`);

class StepError extends Error {}

/** Runs a command with inherited output; throws StepError with the step name on failure. */
function run(step, cmd, cmdArgs, options = {}) {
  const r = spawnSync(cmd, cmdArgs, { cwd: options.cwd ?? root, stdio: options.quiet ? 'pipe' : 'inherit', env: options.env ?? process.env });
  if (r.error) throw new StepError(`${step}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    if (options.quiet) process.stderr.write(`${r.stdout ?? ''}${r.stderr ?? ''}`);
    throw new StepError(`${step} failed: \`${[cmd, ...cmdArgs].join(' ')}\` exited with ${r.status ?? r.signal}`);
  }
  return r;
}

/** Whether `cmd` is on PATH. */
function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Newest modification time (ms) of the files under `paths` (0 if none exist). */
function newest(paths, filter = () => true) {
  let t = 0;
  const visit = (p) => {
    let st;
    try { st = fs.statSync(p); } catch { return; }
    if (st.isDirectory()) {
      for (const e of fs.readdirSync(p)) if (e !== 'node_modules') visit(path.join(p, e));
    } else if (filter(p)) {
      t = Math.max(t, st.mtimeMs);
    }
  };
  for (const p of paths) visit(path.join(root, p));
  return t;
}

/** Oldest modification time of `files`, or 0 when any is missing. */
function oldest(files) {
  let t = Infinity;
  for (const f of files) {
    try { t = Math.min(t, fs.statSync(path.join(root, f)).mtimeMs); } catch { return 0; }
  }
  return t === Infinity ? 0 : t;
}

/** apt-get install, with sudo when not root. */
function aptInstall(step, packages) {
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const exec = (a) => (sudo.length ? run(step, 'sudo', a, { env }) : run(step, a[0], a.slice(1), { env }));
  if (sudo.length && !has('sudo')) throw new StepError(`${step}: installing ${packages.join(' ')} needs root (or sudo)`);
  exec(['apt-get', 'update']);
  exec(['apt-get', 'install', '-y', ...packages]);
}

function ensureEmscripten() {
  if (has('emcc')) return log('emscripten: found');
  log('emscripten: not found, installing Debian\'s emscripten package');
  aptInstall('installing emscripten', ['emscripten']);
  if (!has('emcc')) throw new StepError('installing emscripten: emcc is still not on PATH');
}

/** `npm ci` in `dir` when its node_modules is missing or older than its lockfile. */
function ensureNpmDeps(dir, extra = []) {
  const lock = path.join(dir, 'package-lock.json');
  const marker = path.join(dir, 'node_modules', '.package-lock.json');
  const label = dir === '.' ? 'npm dependencies' : `${dir} dependencies`;
  if (!force && oldest([marker]) >= oldest([lock]) && oldest([marker]) > 0) return log(`${label}: up to date`);
  log(`${label}: npm ci ${extra.join(' ')}`.trimEnd());
  run(`npm ci in ${dir}`, 'npm', ['ci', '--no-audit', '--no-fund', ...extra], { cwd: path.join(root, dir) });
}

const C_INPUTS = ['CMakeLists.txt', 'src', 'wasm'];

function buildNative() {
  const stamp = 'build/native/.setup-stamp';
  const inputs = newest([...C_INPUTS, 'tests/c']);
  if (!force && oldest([stamp]) > inputs) return log('native build: up to date');
  log('native build: cmake build/native');
  if (!fs.existsSync(path.join(root, 'build/native/CMakeCache.txt'))) {
    run('native configure', 'cmake', ['-S', '.', '-B', 'build/native', '-DCMAKE_BUILD_TYPE=Release'], { quiet: true });
  }
  run('native build', 'cmake', ['--build', 'build/native', JOBS]);
  fs.writeFileSync(path.join(root, stamp), `${new Date().toISOString()}\n`);
}

function buildWasm() {
  const outputs = ['cjs', 'mjs'].flatMap((f) => ['mt', 'st'].flatMap((v) => [`dist/${f}/wasmllm-${v}.${f}`, `dist/${f}/wasmllm-${v}.wasm`]));
  const inputs = newest(C_INPUTS);
  if (!force && oldest(outputs) > inputs) return log('wasm build: up to date');
  const fresh = !fs.existsSync(path.join(root, 'build/wasm/CMakeCache.txt'));
  log(`wasm build: cmake build/wasm${fresh ? ' (a first build takes minutes)' : ''}`);
  if (fresh) {
    run('wasm configure', 'emcmake', ['cmake', '-S', '.', '-B', 'build/wasm', '-DCMAKE_BUILD_TYPE=Release'], { env: EMSCRIPTEN_ENV, quiet: true });
  }
  run('wasm build', 'cmake', ['--build', 'build/wasm', JOBS], { env: EMSCRIPTEN_ENV });
  const missing = outputs.filter((f) => !fs.existsSync(path.join(root, f)));
  if (missing.length) throw new StepError(`wasm build: finished but ${missing.join(', ')} are missing`);
  // make may leave an up-to-date output older than a touched input: mark them fresh.
  const now = new Date();
  for (const f of outputs) fs.utimesSync(path.join(root, f), now, now);
}

/** Seconds per fuzz target in `npm test` (tests/run-all.js reads the same variable); 0 skips fuzzing and its build. */
function fuzzSeconds() {
  const v = process.env.WASMLLM_FUZZ_SECONDS;
  return v === undefined || v === '' ? 45 : Number(v);
}

/** Whether clang can link a libFuzzer target with ASan + UBSan. */
function clangFuzzWorks() {
  if (!has('clang')) return false;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-fuzz-probe-'));
  try {
    const src = path.join(dir, 'probe.c');
    fs.writeFileSync(src, 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n');
    return spawnSync('clang', ['-fsanitize=fuzzer,address,undefined', src, '-o', path.join(dir, 'probe')], { stdio: 'ignore' }).status === 0;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** clang and libFuzzer's runtime: on Debian 12, clang-14's libclang_rt.fuzzer lives in libclang-rt-14-dev. */
function ensureFuzzToolchain() {
  if (clangFuzzWorks()) return log('clang with libFuzzer: found');
  log('clang with libFuzzer: not found, installing Debian\'s clang and libclang-rt-14-dev');
  aptInstall('installing clang', ['clang', 'libclang-rt-14-dev']);
  if (!clangFuzzWorks()) throw new StepError('installing clang: clang still cannot link -fsanitize=fuzzer');
}

/** The native tests again under AddressSanitizer + UndefinedBehaviorSanitizer (build/asan). */
function buildAsan() {
  const stamp = 'build/asan/.setup-stamp';
  if (!force && oldest([stamp]) > newest([...C_INPUTS, 'tests/c'])) return log('sanitizer build: up to date');
  log('sanitizer build: cmake build/asan (ASan + UBSan)');
  if (!fs.existsSync(path.join(root, 'build/asan/CMakeCache.txt'))) {
    run('sanitizer configure', 'cmake', ['-S', '.', '-B', 'build/asan', '-DWL_SANITIZE=ON', '-DCMAKE_BUILD_TYPE=RelWithDebInfo'], { quiet: true });
  }
  run('sanitizer build', 'cmake', ['--build', 'build/asan', JOBS]);
  fs.writeFileSync(path.join(root, stamp), `${new Date().toISOString()}\n`);
}

/** The libFuzzer targets (build/fuzz), configured as tools/fuzz.sh does so its own build step finds them current. */
function buildFuzz() {
  const stamp = 'build/fuzz/.setup-stamp';
  if (!force && oldest([stamp]) > newest([...C_INPUTS, 'tests/fuzz'], (p) => p.endsWith('.c') || p.endsWith('.h') || p.endsWith('.txt'))) {
    return log('fuzz build: up to date');
  }
  log('fuzz build: cmake build/fuzz (clang, libFuzzer + ASan + UBSan)');
  run('fuzz configure', 'cmake', ['-S', '.', '-B', 'build/fuzz', '-DWL_FUZZ=ON', '-DCMAKE_C_COMPILER=clang', '-DCMAKE_BUILD_TYPE=RelWithDebInfo'], { quiet: true });
  run('fuzz build', 'cmake', ['--build', 'build/fuzz', JOBS, '--target', 'fuzz_gguf', 'fuzz_quant']);
  fs.writeFileSync(path.join(root, stamp), `${new Date().toISOString()}\n`);
}

function ensureChromium() {
  if (!fs.existsSync(path.join(root, 'tests/browser'))) return;
  if (has('chromium') || has('chromium-browser') || process.env.CHROME_PATH) return log('chromium: found');
  log('chromium: not found, installing Debian\'s chromium package (for tests/browser)');
  aptInstall('installing chromium', ['chromium']);
}

const t0 = Date.now();
try {
  ensureEmscripten();
  ensureNpmDeps('.');
  buildNative();
  buildWasm();
  if (args.has('--test')) {
    // node-llama-cpp's prebuilt binaries arrive as optional dependencies; its
    // install script would only try to download or build llama.cpp.
    ensureNpmDeps('tests/ref', ['--ignore-scripts']);
    ensureChromium();
    buildAsan();
    if (fuzzSeconds() > 0) {
      ensureFuzzToolchain();
      buildFuzz();
    }
  }
  log(`ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
} catch (e) {
  if (!(e instanceof StepError)) throw e;
  console.error(`setup: ${e.message}`);
  process.exit(1);
}
