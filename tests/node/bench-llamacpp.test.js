// The benchmark's llama.cpp runtimes (bench/run.js llama-bench / llamacpp-wasm, bench/compare.js)
// and tools/build-llamacpp-wasm.js's edits to its copy of llama.cpp's build files. The real
// llama-bench is not built here (an hour on 2 cores): a stand-in prints llama-bench's JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ROOT } from './runtime-fixtures.js';
import { patchSource } from '../../tools/build-llamacpp-wasm.js';

const RUN = path.join(ROOT, 'bench/run.js');

test('bench: the llama-bench runtime needs --llama-bench PATH; its JSON becomes the row, and compare.js gives the ratio', () => {
  const refused = spawnSync(process.execPath, [RUN, '--runtimes', 'llama-bench'], { encoding: 'utf8' });
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /needs --llama-bench PATH/);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wl-llama-bench-'));
  const fake = path.join(dir, 'llama-bench');
  // Checks the arguments bench/run.js passes, then answers as llama-bench -o json does (log lines on stderr).
  fs.writeFileSync(fake, `#!/usr/bin/env node
const a = process.argv.slice(2).join(' ');
if (!/-p 128 -n 64 -t 1 -r 1 -mmp 0 -o json/.test(a) || !/-m \\S+\\.gguf/.test(a)) { console.error('bad args ' + a); process.exit(3); }
console.error('llama_model_loader: [log]');
console.log(JSON.stringify([
  { build_commit: 'abc1234', cpu_info: 'Fake CPU', n_prompt: 128, n_gen: 0, avg_ts: 50 },
  { build_commit: 'abc1234', cpu_info: 'Fake CPU', n_prompt: 0, n_gen: 64, avg_ts: 20 },
], null, 2));
`, { mode: 0o755 });
  const r = spawnSync(process.execPath, [RUN, '--json', '--models', 'smollm2-135m', '--types', 'Q4_0', '--threads', '1',
    '--runtimes', 'wasmllm,llama-bench', '--llama-bench', fake, '--repeat', '1', '--gen', '64'], { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const native = rows.find((x) => x.runtime === 'llama-bench');
  assert.equal(native.error, undefined, native.error);
  assert.equal(native.pp_tok_s, 50);
  assert.equal(native.tg_tok_s, 20);
  assert.equal(native.host, 'native');
  assert.match(native.version, /abc1234 \(Fake CPU\)/);
  const wasm = rows.find((x) => x.runtime === 'wasmllm');
  assert.ok(wasm.pp_tok_s > 0 && wasm.isa === 'simd128');

  const saved = path.join(dir, 'r.jsonl');
  fs.writeFileSync(saved, r.stdout);
  const c = spawnSync(process.execPath, [path.join(ROOT, 'bench/compare.js'), saved, '--base', 'llama-bench'], { encoding: 'utf8' });
  assert.equal(c.status, 0, c.stderr);
  const ratio = (wasm.tg_tok_s / 20).toFixed(2);
  assert.ok(c.stdout.includes(`| smollm2-135m | Q4_0 | 1 | 20.0 | ${wasm.tg_tok_s.toFixed(1)} | ${ratio} |`), c.stdout);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('build-llamacpp-wasm: the wasm kernels are chosen under Emscripten and llama-bench enabled; a source that moved on is an error', () => {
  const src = fs.mkdtempSync(path.join(os.tmpdir(), 'wl-llama-src-'));
  const cpu = path.join(src, 'ggml/src/ggml-cpu/CMakeLists.txt');
  const tools = path.join(src, 'tools/CMakeLists.txt');
  fs.mkdirSync(path.dirname(cpu), { recursive: true });
  fs.mkdirSync(path.dirname(tools), { recursive: true });
  fs.writeFileSync(cpu, 'if (A)\nelseif (GGML_SYSTEM_ARCH STREQUAL "x86")\n  x86\nelseif (CMAKE_SYSTEM_PROCESSOR MATCHES "wasm")\n  wasm\nendif()\n');
  fs.writeFileSync(tools, 'if (EMSCRIPTEN)\nelse()\n    add_subdirectory(llama-bench)\nendif()\n');
  patchSource(src);
  patchSource(src); // a second run (a cached copy) changes nothing
  assert.equal(fs.readFileSync(cpu, 'utf8'), 'if (A)\nelseif (GGML_SYSTEM_ARCH STREQUAL "x86" AND NOT EMSCRIPTEN)\n  x86\nelseif (EMSCRIPTEN OR CMAKE_SYSTEM_PROCESSOR MATCHES "wasm")\n  wasm\nendif()\n');
  assert.equal(fs.readFileSync(tools, 'utf8'), 'if (EMSCRIPTEN)\n    add_subdirectory(llama-bench)\nelse()\n    add_subdirectory(llama-bench)\nendif()\n');
  fs.writeFileSync(tools, 'if (NOT EMSCRIPTEN)\n    add_subdirectory(llama-bench)\nendif()\n');
  assert.throws(() => patchSource(src), /tools\/CMakeLists\.txt no longer contains/);
  fs.rmSync(src, { recursive: true, force: true });
});
