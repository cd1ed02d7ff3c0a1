/**
 * tools/edge-bundle.js finds exactly the imports a module makes: not the ones
 * in comments, strings, template text or regular expressions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findImports, collectModules } from '../../tools/edge-bundle.js';

test('findImports: every import form, and nothing from comments, strings or regexes', () => {
  const src = `
    import a from './a.js';
    import b, { c as d } from "./b.js";
    import * as e from './e.js';
    import './side-effect.js';
    export { f } from './f.js';
    export * from './g.js';
    export * as h from './h.js';
    import {
      multi,
      line,
    } from '@scope/pkg';
    /** @param {import('./jsdoc.js').T} x */
    // import z from './line-comment.js';
    const s = "import('./in-string.js')";
    const t = \`import('./in-template.js') \${ await import('./in-substitution.js') } more\`;
    const re = /import\\(['"]\\.\\/in-regex\\.js['"]\\)/g;
    const u = import.meta.url;
    const lazy = await import('./dynamic.js');
    const computed = await import(someUrl);
    obj.import('./method.js');
    export const v = 1;
    export function w() { return import("./in-function.js"); }
  `;
  const { specifiers, nonLiteral } = findImports(src);
  assert.deepEqual(specifiers, [
    './a.js', './b.js', './e.js', './side-effect.js', './f.js', './g.js', './h.js', '@scope/pkg',
    './in-substitution.js', './dynamic.js', './in-function.js',
  ]);
  assert.equal(nonLiteral, 1);
});

test('collectModules: the demo reaches the wasm, the model, the glue and jinja, and no Node builtin', () => {
  const { modules } = collectModules('demo/edge-worker/worker.mjs');
  const byName = new Map(modules.map((m) => [m.name, m]));
  assert.equal(modules[0].name, 'demo/edge-worker/worker.mjs');
  assert.equal(byName.get('dist/mjs/wasmllm-st.wasm')?.kind, 'wasm');
  assert.equal(byName.get('models/shakespeare.gguf')?.kind, 'data');
  assert.equal(byName.get('dist/mjs/wasmllm-st.mjs')?.kind, 'esModule');
  // workerd resolves the bare specifier against web/jinja.js's name.
  assert.match(byName.get('web/@huggingface/jinja')?.file ?? '', /node_modules\/@huggingface\/jinja\/dist\/index\.js$/);
  for (const name of ['web/openai-api.js', 'web/slots.js', 'web/model.js', 'web/chat.js']) assert.ok(byName.has(name), name);
  assert.ok(modules.every((m) => !m.name.includes('node:')));
  assert.ok(!byName.has('web/node/server.js') && !byName.has('web/node/cli.js'), 'Node-only hosts must not be bundled');
});
