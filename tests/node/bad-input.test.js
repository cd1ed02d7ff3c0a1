// Hostile or broken inputs: each must fail with a WasmllmError whose code
// names the problem, from the JS API and from the CLI (non-zero exit, the
// code and message on stderr). Files are built with tools/gguf-writer.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { loadModel, WasmllmError } from '../../web/node/index.js';
import { tempDir, tinyModel, tinyWriter, runCli } from './runtime-fixtures.js';

/** Writes `bytes` into the temp folder and returns the path. */
function writeFile(name, bytes) {
  const file = path.join(tempDir(), name);
  fs.writeFileSync(file, bytes);
  return file;
}

/** Position of the u32 type id in `name`'s tensor-info record. */
function tensorTypeOffset(bytes, name) {
  const needle = Buffer.from(name);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  // The tensor table follows the metadata: take the last occurrence of the name.
  const at = buf.lastIndexOf(needle);
  assert.ok(at > 0, `${name} not found`);
  const nDims = buf.readUInt32LE(at + needle.length);
  return at + needle.length + 4 + 8 * nDims;
}

const cases = [
  {
    name: 'truncated file (cut inside the header)',
    code: 'ERR_TRUNCATED',
    message: /truncated|past the end|needs/i,
    make: () => writeFile('truncated.gguf', fs.readFileSync(tinyModel()).subarray(0, 4096)),
  },
  {
    name: 'wrong magic',
    code: 'ERR_BAD_MAGIC',
    message: /GGUF/,
    make: () => {
      const bytes = new Uint8Array(fs.readFileSync(tinyModel()));
      bytes.set([0x47, 0x47, 0x4d, 0x4c], 0); // "GGML"
      return writeFile('bad-magic.gguf', bytes);
    },
  },
  {
    name: 'tensor data past the end of the file',
    code: 'ERR_TRUNCATED',
    message: /output\.weight.*past the end/,
    make: () => {
      const bytes = fs.readFileSync(tinyModel());
      return writeFile('short-data.gguf', bytes.subarray(0, bytes.length - 1000));
    },
  },
  {
    name: 'an unknown tensor type',
    code: 'ERR_UNKNOWN_TYPE',
    message: /type/,
    make: () => {
      const bytes = new Uint8Array(tinyWriter().toBuffer());
      new DataView(bytes.buffer).setUint32(tensorTypeOffset(bytes, 'output_norm.weight'), 99, true);
      return writeFile('unknown-type.gguf', bytes);
    },
  },
  {
    name: 'an unsupported architecture',
    code: 'ERR_UNSUPPORTED_ARCH',
    message: /rwkv42/,
    make: () => {
      const w = tinyWriter();
      w.addString('general.architecture', 'rwkv42');
      return writeFile('unsupported-arch.gguf', w.toBuffer());
    },
  },
  {
    name: 'a missing file',
    code: 'ERR_NOT_FOUND',
    message: /no-such-model\.gguf/,
    make: () => path.join(tempDir(), 'no-such-model.gguf'),
  },
];

for (const c of cases) {
  test(`${c.name}: ${c.code} from loadModel and from the CLI`, async () => {
    const file = c.make();
    await assert.rejects(loadModel(file, { threads: 1 }), (e) => {
      assert.ok(e instanceof WasmllmError, `${e}`);
      assert.ok(e instanceof Error);
      assert.equal(e.code, c.code, e.message);
      assert.match(e.message, c.message);
      return true;
    });
    const r = await runCli(['run', '--model', file, '--max-tokens', '2']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^wasmllm: ${c.code}: `, 'm'));
    assert.match(r.stderr, c.message);
  });
}

test('the same bad bytes fail the same way when given as a Uint8Array', async () => {
  const bytes = new Uint8Array(fs.readFileSync(tinyModel()));
  bytes.set([0, 0, 0, 0], 0);
  await assert.rejects(loadModel(bytes, { threads: 1 }), { code: 'ERR_BAD_MAGIC' });
  await assert.rejects(loadModel(bytes.subarray(0, 100), { threads: 1 }), { code: 'ERR_BAD_MAGIC' });
  const good = new Uint8Array(fs.readFileSync(tinyModel()));
  await assert.rejects(loadModel(good.subarray(0, 5000), { threads: 1 }), { code: 'ERR_TRUNCATED' });
});

test('a prompt longer than the context: ERR_CONTEXT_FULL with both numbers', async () => {
  const file = tinyModel();
  const model = await loadModel(file, { threads: 1, contextSize: 16 });
  try {
    const prompt = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen';
    const n = model.tokenize(prompt).length;
    assert.ok(n > 16);
    assert.throws(() => model.complete(prompt), (e) => {
      assert.equal(e.code, 'ERR_CONTEXT_FULL');
      assert.match(e.message, new RegExp(`${n} tokens.*16`));
      return true;
    });
    // Still usable with a prompt that fits.
    let count = 0;
    for await (const _ of model.complete('one two', { maxTokens: 4, temperature: 0 })) count++;
    assert.equal(count, 4);
    // Generation stops (without error) when the context fills up.
    const tokens = [];
    for await (const { token } of model.complete('one two', { maxTokens: 100, temperature: 0 })) if (token >= 0) tokens.push(token);
    assert.equal(model.lastCompletion.finishReason, 'context');
    assert.equal(model.lastCompletion.promptTokens.length + tokens.length, 17);
  } finally {
    model.dispose();
  }
  const r = await runCli(['complete', '--model', file, '--ctx', '16', '--prompt', 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^wasmllm: ERR_CONTEXT_FULL: .*tokens/m);
});

test('a URL that answers 404: ERR_FETCH naming the URL and status', async () => {
  const server = http.createServer((req, res) => { res.writeHead(404); res.end('no'); });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/missing.gguf`;
  try {
    await assert.rejects(loadModel(url, { threads: 1 }), (e) => {
      assert.equal(e.code, 'ERR_FETCH');
      assert.ok(e.message.includes(url), e.message);
      assert.match(e.message, /404/);
      return true;
    });
    const r = await runCli(['run', '--model', url]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^wasmllm: ERR_FETCH: .*404/m);
  } finally {
    server.close();
  }
});

test('bad options to loadModel and complete: ERR_BAD_ARG', async () => {
  await assert.rejects(loadModel(tinyModel(), { threads: 0 }), { code: 'ERR_BAD_ARG' });
  await assert.rejects(loadModel(tinyModel(), { contextSize: -1 }), { code: 'ERR_BAD_ARG' });
  await assert.rejects(loadModel(12345), { code: 'ERR_BAD_ARG' });
  const model = await loadModel(tinyModel(), { threads: 1, contextSize: 64 });
  try {
    assert.throws(() => model.complete({}), { code: 'ERR_BAD_ARG' });
    await assert.rejects(model.complete('hi', { maxTokens: -1 }).next(), { code: 'ERR_BAD_ARG' });
    await assert.rejects(model.complete('hi', { temperature: 'hot' }).next(), { code: 'ERR_BAD_ARG' });
  } finally {
    model.dispose();
  }
});

test('more than the wasm heap can hold: ERR_OOM with the sizes', async () => {
  // A model larger than 4 GiB (sparse: the tail is zeros that take no disk).
  const big = path.join(tempDir(), 'too-big.gguf');
  fs.copyFileSync(tinyModel(), big);
  fs.truncateSync(big, 4.5 * 2 ** 30);
  try {
    await assert.rejects(loadModel(big, { threads: 1 }), (e) => {
      assert.equal(e.code, 'ERR_OOM', e.message);
      assert.match(e.message, /4831838208 bytes/);
      return true;
    });
  } finally {
    fs.rmSync(big);
  }
  // A KV cache that cannot fit.
  await assert.rejects(loadModel(tinyModel(), { threads: 1, contextSize: 1 << 24 }), (e) => {
    assert.equal(e.code, 'ERR_OOM', e.message);
    assert.match(e.message, /KV cache/);
    return true;
  });
});
