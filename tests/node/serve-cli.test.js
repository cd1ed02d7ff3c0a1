/**
 * `wasmllm serve` as a user runs it: the embedded model answers the README's
 * openai-client example (model 'shakespeare', the file name's default alias),
 * --api-key guards it, and SIGTERM ends running streams after
 * --shutdown-timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { ROOT, CLI } from './runtime-fixtures.js';

const REF = path.join(ROOT, 'tests/ref/node_modules');
const skipNoRef = fs.existsSync(path.join(REF, 'openai')) ? false : 'tests/ref is not installed (node tools/setup.js --test)';

/** Starts `wasmllm serve ...args` on a free port; resolves with its base URL, the child and its stderr so far. */
function startServe(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'serve', '-q', '--port', '0', '-t', '1', ...args], { cwd: ROOT });
    let out = '';
    const log = { err: '' };
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`serve did not start\n${log.err}`)); }, 60000);
    child.stderr.setEncoding('utf8').on('data', (d) => { log.err += d; });
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = /on (http:\/\/\S+)\/v1/.exec(out);
      if (m) { clearTimeout(timer); resolve({ url: m[1], child, out, log }); }
    });
    child.on('error', reject);
  });
}

test('the README\'s openai-client example against the embedded model, with --api-key', { skip: skipNoRef, timeout: 90000 }, async () => {
  const { url, child, out } = await startServe(['--api-key', 'sk-local']);
  try {
    assert.match(out, /also 'shakespeare'/);
    const OpenAI = (await import(createRequire(import.meta.url).resolve('openai', { paths: [REF] }))).default;
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'sk-local', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'shakespeare', messages: [{ role: 'user', content: 'Who art thou?' }], max_tokens: 8 });
    assert.ok(r.choices[0].message.content.length > 0);
    const anonymous = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'wrong', maxRetries: 0 });
    await assert.rejects(anonymous.models.list(), (e) => e.status === 401);
    assert.equal((await fetch(`${url}/health`)).status, 200);
  } finally {
    child.kill('SIGKILL');
  }
});

test('SIGTERM: running streams get --shutdown-timeout seconds, then end; the process exits', { timeout: 90000 }, async () => {
  const { url, child } = await startServe(['--shutdown-timeout', '1']);
  const exited = new Promise((resolve) => child.once('close', (code) => resolve(code)));
  try {
    const r = await fetch(`${url}/v1/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'ROMEO:', max_tokens: 4000, stream: true }),
    });
    assert.equal(r.status, 200);
    const t0 = Date.now();
    child.kill('SIGTERM');
    const text = await r.text();
    assert.match(text, /"code":"shutting_down"/);
    assert.equal(await exited, 0);
    const ms = Date.now() - t0;
    assert.ok(ms >= 900 && ms < 10000, `exited ${ms} ms after SIGTERM`);
  } finally {
    child.kill('SIGKILL');
  }
});
