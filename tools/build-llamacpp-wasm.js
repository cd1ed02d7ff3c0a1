#!/usr/bin/env node
/**
 * Builds llama.cpp's own llama-bench as WebAssembly (emcc, `-msimd128 -pthread`), the honest
 * anchor for wasmllm's speed: same kernels family, same toolchain, same host. It is a
 * benchmark runtime only (`node bench/run.js --runtimes llamacpp-wasm`); neither `npm start`
 * nor `npm test` runs this script, because the build takes ~15 minutes on 2 cores.
 *
 *   node tools/build-llamacpp-wasm.js [--bundle PATH] [--jobs 2] [--force]
 *
 * Source: node-llama-cpp's llama/gitRelease.bundle (the llama.cpp it ships), cloned into
 * .cache/llamacpp-wasm/src. Three build-file edits are made to that COPY (none of llama.cpp's
 * code enters this repository), each checked to apply:
 *  - ggml-cpu: Emscripten's CMake toolchain reports the processor as x86, so ggml would pick
 *    its x86 sources and, finding no x86 flags, fall back to generic C (about a quarter of the
 *    speed); the wasm branch (arch/wasm/quants.c, the SIMD128 kernels) is chosen instead.
 *  - tools/CMakeLists.txt: llama-bench is enabled under Emscripten (upstream builds no tools there).
 * Output: .cache/llamacpp-wasm/build/bin/llama-bench.js (+ .wasm, .worker.js), run by Node
 * with NODERAWFS so it opens GGUF files by their host paths.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import url from 'node:url';

const ROOT = path.resolve(path.dirname(url.fileURLToPath(import.meta.url)), '..');
export const LLAMACPP_WASM_DIR = path.join(ROOT, '.cache', 'llamacpp-wasm');
export const LLAMACPP_WASM_BENCH = path.join(LLAMACPP_WASM_DIR, 'build', 'bin', 'llama-bench.js');
const DEFAULT_BUNDLE = path.join(ROOT, 'tests', 'ref', 'node_modules', 'node-llama-cpp', 'llama', 'gitRelease.bundle');

/** @param {string[]} argv */
function parseArgs(argv) {
  const o = { bundle: DEFAULT_BUNDLE, jobs: 2, force: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--bundle') o.bundle = path.resolve(argv[++i]);
    else if (a === '--jobs') o.jobs = Number(argv[++i]);
    else if (a === '--force') o.force = true;
    else throw new Error(`build-llamacpp-wasm: unknown argument ${a}`);
  }
  if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new Error('build-llamacpp-wasm: --jobs wants a positive integer');
  return o;
}

/** @param {string} cmd @param {string[]} args @param {object} [opts] */
function exec(cmd, args, opts = {}) {
  console.log(`build-llamacpp-wasm: ${cmd} ${args.join(' ')}`);
  // Debian's emcc finds its acorn optimizer through NODE_PATH (as tools/setup.js sets it).
  const env = { ...process.env, NODE_PATH: process.env.NODE_PATH ?? '/usr/share/nodejs' };
  execFileSync(cmd, args, { stdio: 'inherit', env, ...opts });
}

/**
 * Replaces `from` by `to` in one file of the source copy; a source whose build files moved
 * on is a hard error, never a silent generic-C build.
 * @param {string} file @param {string} from @param {string} to
 */
function patch(file, from, to) {
  const text = fs.readFileSync(file, 'utf8');
  if (text.includes(to)) return;
  if (!text.includes(from)) throw new Error(`build-llamacpp-wasm: ${path.relative(LLAMACPP_WASM_DIR, file)} no longer contains ${JSON.stringify(from)}; update this script for the new llama.cpp`);
  fs.writeFileSync(file, text.replace(from, to));
}

/** The build-file edits, on the source copy at `src` (exported for tests). @param {string} src */
export function patchSource(src) {
  const cpu = path.join(src, 'ggml', 'src', 'ggml-cpu', 'CMakeLists.txt');
  patch(cpu, 'elseif (GGML_SYSTEM_ARCH STREQUAL "x86")', 'elseif (GGML_SYSTEM_ARCH STREQUAL "x86" AND NOT EMSCRIPTEN)');
  patch(cpu, 'elseif (CMAKE_SYSTEM_PROCESSOR MATCHES "wasm")', 'elseif (EMSCRIPTEN OR CMAKE_SYSTEM_PROCESSOR MATCHES "wasm")');
  patch(path.join(src, 'tools', 'CMakeLists.txt'), 'if (EMSCRIPTEN)\nelse()', 'if (EMSCRIPTEN)\n    add_subdirectory(llama-bench)\nelse()');
}

/**
 * Emscripten's glue is CommonJS in a .js file, and this repository's package.json says
 * "type": "module": a package.json beside it makes Node read it as CommonJS again.
 */
function markCommonJs() {
  fs.writeFileSync(path.join(path.dirname(LLAMACPP_WASM_BENCH), 'package.json'), '{ "type": "commonjs" }\n');
}

/** @param {{ bundle: string, jobs: number, force: boolean }} o */
export function buildLlamacppWasm(o) {
  if (!o.force && fs.existsSync(LLAMACPP_WASM_BENCH)) {
    console.log(`build-llamacpp-wasm: ${path.relative(ROOT, LLAMACPP_WASM_BENCH)} exists (--force rebuilds)`);
    markCommonJs();
    return LLAMACPP_WASM_BENCH;
  }
  if (!fs.existsSync(o.bundle)) throw new Error(`build-llamacpp-wasm: no llama.cpp bundle at ${o.bundle} (node tools/setup.js --test installs node-llama-cpp under tests/ref)`);
  const src = path.join(LLAMACPP_WASM_DIR, 'src');
  const build = path.join(LLAMACPP_WASM_DIR, 'build');
  if (!fs.existsSync(path.join(src, 'CMakeLists.txt'))) {
    fs.mkdirSync(LLAMACPP_WASM_DIR, { recursive: true });
    exec('git', ['clone', '-q', o.bundle, src]);
  }
  patchSource(src);
  // NODERAWFS: llama-bench opens the model by its host path. The pool is created up front
  // (16 workers) so a -t N run never waits on a worker spawning mid-benchmark.
  const link = ['-pthread', '-sNODERAWFS=1', '-sPTHREAD_POOL_SIZE=16', '-sALLOW_MEMORY_GROWTH=1',
    '-sINITIAL_MEMORY=268435456', '-sMAXIMUM_MEMORY=4294967296', '-sTOTAL_STACK=8388608', '-sEXIT_RUNTIME=1'].join(' ');
  exec('emcmake', ['cmake', '-S', src, '-B', build, '-DCMAKE_BUILD_TYPE=Release',
    '-DLLAMA_WASM_MEM64=OFF', '-DLLAMA_BUILD_HTML=OFF', '-DGGML_WASM_SINGLE_FILE=OFF',
    '-DLLAMA_BUILD_TESTS=OFF', '-DLLAMA_BUILD_EXAMPLES=OFF', '-DLLAMA_BUILD_SERVER=OFF', '-DLLAMA_BUILD_APP=OFF',
    '-DLLAMA_OPENSSL=OFF', '-DLLAMA_CURL=OFF', '-DGGML_OPENMP=OFF', '-DBUILD_SHARED_LIBS=OFF',
    '-DCMAKE_C_FLAGS=-pthread -msimd128', '-DCMAKE_CXX_FLAGS=-pthread -msimd128',
    `-DCMAKE_EXE_LINKER_FLAGS=${link}`]);
  const cache = fs.readFileSync(path.join(build, 'CMakeCache.txt'), 'utf8');
  if (/GGML_CPU_GENERIC/.test(cache)) throw new Error('build-llamacpp-wasm: ggml-cpu fell back to generic C');
  exec('cmake', ['--build', build, '-j', String(o.jobs), '--target', 'llama-bench']);
  if (!fs.existsSync(LLAMACPP_WASM_BENCH)) throw new Error(`build-llamacpp-wasm: the build did not write ${LLAMACPP_WASM_BENCH}`);
  markCommonJs();
  return LLAMACPP_WASM_BENCH;
}

if (import.meta.url === url.pathToFileURL(process.argv[1]).href) {
  try {
    buildLlamacppWasm(parseArgs(process.argv.slice(2)));
  } catch (e) {
    console.error(/** @type {Error} */ (e).message);
    process.exit(1);
  }
}
