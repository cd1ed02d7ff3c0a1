/**
 * The package as users get it: `npm pack`, then `npm install --offline` of the
 * tarball into a fresh project (the one dependency comes from the npm cache that
 * `npm ci` filled), and from there: the README's examples (run verbatim, or
 * type-checked with `tsc --strict` where they need a browser or an edge
 * runtime), the CLI through npx, the demo server, the README's links, and the
 * .d.ts of every entry against what the entry exports. Also checks what the
 * tarball holds and what it must not, and reports its size.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { readmeExamples, shellWords, relativeLinks, headingAnchors } from './readme-examples.js';
import { declaredExports, runtimeExports, exportDifferences } from './declared-exports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const REF = path.join(ROOT, 'tests/ref/node_modules');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';
let tmp;
let packed;
let project;
let installed;
let examples;

const REQUIRED = [
  'package.json', 'README.md', 'LICENSE', 'models/shakespeare.gguf', 'models/shakespeare-draft.gguf',
  'web/types.d.ts', 'web/node/index.js', 'web/node/index.d.ts', 'web/node/server.js', 'web/node/server.d.ts',
  'web/edge/index.js', 'web/edge/index.d.ts', 'web/browser/index.js', 'web/browser/index.d.ts', 'web/node/cli.js',
  'docs/DESIGN.md', 'docs/BENCHMARKS.md', 'demo/README.md', 'demo/serve.js', 'demo/edge-worker/README.md', 'tools/train/README.md',
  ...['cjs/wasmllm-st.cjs', 'cjs/wasmllm-st.wasm', 'cjs/wasmllm-mt.cjs', 'cjs/wasmllm-mt.wasm',
    'mjs/wasmllm-st.mjs', 'mjs/wasmllm-st.wasm', 'mjs/wasmllm-mt.mjs', 'mjs/wasmllm-mt.wasm',
    // the relaxed-SIMD pair, which prepack builds (setup --relaxed)
    'cjs/wasmllm-st-relaxed.cjs', 'cjs/wasmllm-st-relaxed.wasm', 'cjs/wasmllm-mt-relaxed.cjs', 'cjs/wasmllm-mt-relaxed.wasm',
    'mjs/wasmllm-st-relaxed.mjs', 'mjs/wasmllm-st-relaxed.wasm', 'mjs/wasmllm-mt-relaxed.mjs', 'mjs/wasmllm-mt-relaxed.wasm'].map((f) => `dist/${f}`),
];
// tools/ ships only the embedded model's card (tools/train/README.md), which the README links to.
const FORBIDDEN = /^(tests|src|build|bench|wasm|node_modules|\.cache|test-artifacts)\/|^tools\/(?!train\/README\.md$)|\.(c|h|tgz|o|a)$|CMakeLists\.txt$/;
// The README examples this file runs or type-checks, by the name in their `<!-- example: NAME -->` marker.
const EXAMPLES = ['node', 'cli', 'server', 'tools', 'browser', 'edge'];
/** Examples the browser tests run instead (tests/browser/vite-app.test.js, tests/browser/no-bundler.test.js). */
const BROWSER_RUN = ['vite-config', 'import-map-page', 'cdn-import-map'];

/** Runs `node args` in the installed project; returns stdout. */
const nodeIn = (args, timeout = 60000) => execFileSync(process.execPath, args, { cwd: project, encoding: 'utf8', timeout });

before(() => {
  for (const f of REQUIRED.filter((f) => f.startsWith('dist/'))) {
    assert.ok(fs.existsSync(path.join(ROOT, f)), `${f} is missing: run \`npm run build\` first`);
  }
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-pack-'));
  const out = execFileSync(NPM, ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  packed = JSON.parse(out)[0];
  project = path.join(tmp, 'app');
  fs.mkdirSync(project);
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // --prefer-offline: @huggingface/jinja comes from the npm cache (`npm ci` put its tarball there), but the
  // registry's metadata for it may not be cached (a lockfile without download addresses, as npm here
  // writes it, lets `npm ci` skip it), so npm may ask the registry for that much.
  try {
    execFileSync(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', path.join(tmp, packed.filename)], {
      cwd: project, encoding: 'utf8', timeout: 90000, stdio: 'pipe',
    });
  } catch (e) {
    throw new Error(`npm install of the tarball failed: ${e.stderr}`);
  }
  installed = path.join(project, 'node_modules/wasmllm');
  examples = readmeExamples(fs.readFileSync(path.join(installed, 'README.md'), 'utf8'));
}, { timeout: 180000 });

after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the built wasm, the JS, its types, the model, the linked docs, and no junk', (t) => {
  const files = packed.files.map((f) => f.path);
  for (const f of REQUIRED) assert.ok(files.includes(f), `${f} is not in the package`);
  const junk = files.filter((f) => FORBIDDEN.test(f));
  assert.deepEqual(junk, [], `files that must not ship: ${junk.join(', ')}`);
  t.diagnostic(`packed ${(packed.size / 1e6).toFixed(2)} MB, unpacked ${(packed.unpackedSize / 1e6).toFixed(2)} MB, ${files.length} files`);
});

test('installed from the tarball, `import { loadModel } from "wasmllm"` generates text', { timeout: 120000 }, () => {
  assert.ok(fs.existsSync(path.join(installed, 'dist/cjs/wasmllm-st.wasm')));
  assert.ok(!fs.existsSync(path.join(installed, 'tests')));
  fs.writeFileSync(path.join(project, 'main.js'), `
import { loadModel, embeddedModelPath, WasmllmError } from 'wasmllm';
import { createWorkerHandler } from 'wasmllm/worker';
const model = await loadModel(embeddedModelPath, { threads: 1 });
let text = '';
for await (const piece of model.complete('ROMEO:', { maxTokens: 12, temperature: 0 })) text += piece.text;
const info = model.info();
model.dispose();
let badArg = null;
try { createWorkerHandler({ model: new ArrayBuffer(8) }); } catch (e) { badArg = e instanceof WasmllmError ? e.code : String(e); }
console.log(JSON.stringify({ text, tokens: info.nVocab, variant: info.wasmVariant, modelPath: embeddedModelPath, badArg,
  wasmUrl: import.meta.resolve('wasmllm/dist/mjs/wasmllm-st.wasm') }));
`);
  const r = JSON.parse(nodeIn(['main.js']).trim().split('\n').at(-1));
  assert.ok(r.text.length > 0, 'no text was generated');
  assert.equal(r.tokens, 2048);
  assert.equal(r.variant, 'st');
  assert.equal(r.modelPath, path.join(installed, 'models/shakespeare.gguf'), 'embeddedModelPath should be the installed model');
  assert.equal(r.badArg, 'ERR_BAD_ARG', 'wasmllm/worker should load and check its config');
  assert.match(r.wasmUrl, /node_modules\/wasmllm\/dist\/mjs\/wasmllm-st\.wasm$/);
});

test('the README marks the examples this test runs', () => {
  assert.deepEqual([...examples.keys()].sort(), [...EXAMPLES, ...BROWSER_RUN].sort());
});

test("the README's Node example runs verbatim in a project that installed the package", { timeout: 120000 }, () => {
  const { lang, code } = examples.get('node');
  assert.equal(lang, 'js');
  fs.writeFileSync(path.join(project, 'readme-node.js'), code);
  // From a folder other than the project's: paths in the example must not depend on the caller's directory.
  const elsewhere = fs.mkdtempSync(path.join(tmp, 'cwd-'));
  const out = execFileSync(process.execPath, [path.join(project, 'readme-node.js')], { cwd: elsewhere, encoding: 'utf8', timeout: 90000 });
  const [generated, infoText] = out.split(/\n (?=\{)/);
  assert.ok(generated.trim().length > 20, `too little text: ${JSON.stringify(generated)}`);
  assert.match(infoText, /architecture: 'llama'/);
  assert.match(infoText, /nVocab: 2048/);
});

test("the README's CLI example runs through npx in a project that installed the package", { timeout: 120000 }, () => {
  const { lang, code } = examples.get('cli');
  assert.equal(lang, 'sh');
  const lines = code.trim().split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  assert.ok(lines.length > 0);
  for (const line of lines) {
    const [cmd, ...args] = shellWords(line.replace(/\s+#.*$/, ''));
    assert.equal(cmd, 'npx', `README CLI examples start with npx: ${line}`);
    const out = execFileSync(NPX, args, {
      cwd: project, encoding: 'utf8', timeout: 90000, env: { ...process.env, npm_config_offline: 'true' },
    });
    assert.match(out, /^ROMEO:/, `${line} printed ${JSON.stringify(out.slice(0, 200))}`);
    assert.ok(out.length > 'ROMEO:'.length + 20, `${line} generated too little`);
  }
});

test('relative links in the shipped markdown lead to shipped files and headings', () => {
  const files = new Set(packed.files.map((f) => f.path));
  const dead = [];
  for (const doc of [...files].filter((f) => f.endsWith('.md'))) {
    const text = fs.readFileSync(path.join(installed, doc), 'utf8');
    for (const { file, anchor } of relativeLinks(text)) {
      const target = file ? path.posix.normalize(path.posix.join(path.posix.dirname(doc), file)) : doc;
      if (!files.has(target)) dead.push(`${doc}: ${file} (not in the package)`);
      else if (anchor && !headingAnchors(fs.readFileSync(path.join(installed, target), 'utf8')).has(anchor)) {
        dead.push(`${doc}: ${file}#${anchor} (no such heading)`);
      }
    }
  }
  assert.deepEqual(dead, []);
});

test('the demo server runs from the installed package', { timeout: 60000 }, async () => {
  const child = spawn(process.execPath, [path.join(installed, 'demo/serve.js'), '--port', '0'], { cwd: project, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const url = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /(http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`demo/serve.js exited with ${code}: ${out}`)));
    });
    for (const p of ['', 'app.js', 'web/browser/index.js', 'web/browser/worker-host.js', 'web/chat.js', 'vendor/jinja/index.js', 'dist/mjs/wasmllm-st.wasm', 'models/shakespeare.gguf']) {
      const r = await fetch(new URL(p, url), { headers: { range: 'bytes=0-3' } });
      assert.ok(r.ok, `${p}: HTTP ${r.status}`);
      await r.arrayBuffer();
    }
  } finally {
    child.kill();
  }
});

/**
 * A TypeScript project in the installed app: `files` copied from tests/types/NAME plus
 * README examples, checked with `tsc --strict` and the given compiler options.
 */
function typeCheck(name, compilerOptions, readmeNames) {
  const dir = path.join(project, `types-${name}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(path.join(ROOT, 'tests/types', name))) fs.copyFileSync(path.join(ROOT, 'tests/types', name, f), path.join(dir, f));
  for (const example of readmeNames) fs.writeFileSync(path.join(dir, `readme-${example}.ts`), examples.get(example).code);
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      strict: true, noEmit: true, target: 'es2022', skipLibCheck: false, forceConsistentCasingInFileNames: true,
      typeRoots: [path.join(REF, '@types')], ...compilerOptions,
    },
    include: ['*.ts'],
  }, null, 2));
  try {
    execFileSync(process.execPath, [path.join(REF, 'typescript/bin/tsc'), '-p', dir], { cwd: dir, encoding: 'utf8', timeout: 120000 });
  } catch (e) {
    assert.fail(`tsc --strict failed for the ${name} project:\n${e.stdout}${e.stderr}`);
  }
}

test('types: a Node project (nodenext) compiles every documented API and the Node, server and tools examples', { timeout: 180000 }, () => {
  typeCheck('node', { module: 'nodenext', moduleResolution: 'nodenext', lib: ['es2022'], types: ['node'] }, ['node', 'server', 'tools']);
});

test('types: a browser project (bundler, browser condition, DOM, no Node types) compiles the browser API and example', { timeout: 180000 }, () => {
  typeCheck('browser', {
    module: 'esnext', moduleResolution: 'bundler', customConditions: ['browser'], lib: ['es2022', 'dom', 'dom.iterable'], types: [],
  }, ['browser']);
});

test('types: a Workers project (bundler, workerd condition, WebWorker lib) compiles the edge API and example', { timeout: 180000 }, () => {
  typeCheck('edge', {
    module: 'esnext', moduleResolution: 'bundler', customConditions: ['workerd'], lib: ['es2022', 'webworker'], types: [],
  }, ['edge']);
});

test('types: every entry declares exactly what it exports, async where the code is', { timeout: 120000 }, () => {
  const ts = createRequire(import.meta.url)(path.join(REF, 'typescript'));
  const entries = { wasmllm: 'web/node/index.d.ts', 'wasmllm/browser': 'web/browser/index.d.ts', 'wasmllm/worker': 'web/edge/index.d.ts', 'wasmllm/server': 'web/node/server.d.ts' };
  fs.writeFileSync(path.join(project, 'describe.js'), `
import { runtimeExports } from ${JSON.stringify(path.join(ROOT, 'tests/node/declared-exports.js'))};
const out = {};
for (const spec of ${JSON.stringify(Object.keys(entries))}) out[spec] = runtimeExports(await import(spec));
console.log(JSON.stringify(out));
`);
  const runtime = JSON.parse(nodeIn(['describe.js']));
  const problems = [];
  for (const [spec, dts] of Object.entries(entries)) {
    for (const p of exportDifferences(declaredExports(ts, path.join(installed, dts)), runtime[spec])) problems.push(`${spec}: ${p}`);
  }
  assert.deepEqual(problems, []);
});
