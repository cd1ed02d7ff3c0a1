/**
 * The package as users get it: `npm pack`, then `npm install` of the tarball
 * into a fresh project (offline-friendly: the one dependency comes from the
 * npm cache), and a generation through the public import there. Also checks
 * what the tarball holds (the built wasm variants, the JS, the embedded model,
 * README and LICENSE) and what it must not (tests, tools, C sources, build
 * output), and reports its size.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let tmp;
let packed;

const REQUIRED = [
  'package.json', 'README.md', 'LICENSE', 'models/shakespeare.gguf',
  'web/node/index.js', 'web/node/index.d.ts', 'web/edge/index.js', 'web/edge/index.d.ts', 'web/browser/index.js', 'web/node/cli.js',
  ...['cjs/wasmllm-st.cjs', 'cjs/wasmllm-st.wasm', 'cjs/wasmllm-mt.cjs', 'cjs/wasmllm-mt.wasm',
    'mjs/wasmllm-st.mjs', 'mjs/wasmllm-st.wasm', 'mjs/wasmllm-mt.mjs', 'mjs/wasmllm-mt.wasm'].map((f) => `dist/${f}`),
];
const FORBIDDEN = /^(tests|tools|src|build|bench|demo|wasm|docs|node_modules|\.cache|test-artifacts)\/|\.(c|h|tgz|o|a)$|CMakeLists\.txt$/;

before(() => {
  for (const f of REQUIRED.filter((f) => f.startsWith('dist/'))) {
    assert.ok(fs.existsSync(path.join(ROOT, f)), `${f} is missing: run \`npm run build\` first`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-pack-'));
  const out = execFileSync(NPM, ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  packed = JSON.parse(out)[0];
});

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the built wasm, the JS, the model, README and LICENSE, and no junk', (t) => {
  const files = packed.files.map((f) => f.path);
  for (const f of REQUIRED) assert.ok(files.includes(f), `${f} is not in the package`);
  const junk = files.filter((f) => FORBIDDEN.test(f));
  assert.deepEqual(junk, [], `files that must not ship: ${junk.join(', ')}`);
  t.diagnostic(`packed ${(packed.size / 1e6).toFixed(2)} MB, unpacked ${(packed.unpackedSize / 1e6).toFixed(2)} MB, ${files.length} files`);
});

test('installed from the tarball, `import { loadModel } from "wasmllm"` generates text', { timeout: 120000 }, () => {
  const project = path.join(tmp, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  execFileSync(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', path.join(tmp, packed.filename)], {
    cwd: project, encoding: 'utf8', timeout: 90000,
  });
  const installed = path.join(project, 'node_modules/wasmllm');
  assert.ok(fs.existsSync(path.join(installed, 'dist/cjs/wasmllm-st.wasm')));
  assert.ok(!fs.existsSync(path.join(installed, 'tests')));
  fs.writeFileSync(path.join(project, 'main.js'), `
import { loadModel, WasmllmError } from 'wasmllm';
import { createWorkerHandler } from 'wasmllm/worker';
import { fileURLToPath } from 'node:url';
const modelPath = fileURLToPath(import.meta.resolve('wasmllm/models/shakespeare.gguf'));
const model = await loadModel(modelPath, { threads: 1 });
let text = '';
for await (const piece of model.complete('ROMEO:', { maxTokens: 12, temperature: 0 })) text += piece.text;
const info = model.info();
model.dispose();
let badArg = null;
try { createWorkerHandler({ model: new ArrayBuffer(8) }); } catch (e) { badArg = e instanceof WasmllmError ? e.code : String(e); }
console.log(JSON.stringify({ text, tokens: info.nVocab, variant: info.wasmVariant, modelPath, badArg,
  wasmUrl: import.meta.resolve('wasmllm/dist/mjs/wasmllm-st.wasm') }));
`);
  const out = execFileSync(process.execPath, ['main.js'], { cwd: project, encoding: 'utf8', timeout: 60000 });
  const r = JSON.parse(out.trim().split('\n').at(-1));
  assert.ok(r.text.length > 0, 'no text was generated');
  assert.equal(r.tokens, 2048);
  assert.equal(r.variant, 'st');
  assert.ok(r.modelPath.startsWith(installed), `the model resolved outside the installed package: ${r.modelPath}`);
  assert.equal(r.badArg, 'ERR_BAD_ARG', 'wasmllm/worker should load and check its config');
  assert.match(r.wasmUrl, /node_modules\/wasmllm\/dist\/mjs\/wasmllm-st\.wasm$/);
  // The CLI is installed as a bin and runs the embedded model by default.
  const cli = execFileSync(path.join(project, 'node_modules/.bin/wasmllm'), ['run', '-n', '4', '--temperature', '0', '-t', '1'], {
    cwd: project, encoding: 'utf8', timeout: 60000,
  });
  assert.match(cli, /^ROMEO:/);
});
