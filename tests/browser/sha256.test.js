/**
 * web/sha256.js (incremental, for streamed shards) against node:crypto, and
 * web/download.js's resume and retry logic against a local server (Node's
 * fetch; the browser tests cover the same code in Chromium).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Sha256, sha256Hex } from '../../web/sha256.js';
import { downloadToSink, parseContentRange } from '../../web/download.js';
import { server, fixtures } from './helpers.js';

test('sha256 matches node:crypto for every length around the block and padding edges, fed in random pieces', () => {
  let seed = 1;
  const rand = (n) => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4097, 65536 + 7]) {
    const bytes = crypto.randomBytes(n);
    const want = crypto.createHash('sha256').update(bytes).digest('hex');
    assert.equal(sha256Hex(bytes), want, `one piece, ${n} bytes`);
    const h = new Sha256();
    for (let pos = 0; pos < n;) {
      const k = Math.min(n - pos, 1 + rand(150));
      h.update(bytes.subarray(pos, pos + k));
      pos += k;
    }
    assert.equal(h.hexDigest(), want, `random pieces, ${n} bytes`);
    assert.equal(h.hexDigest(), want, 'digest twice gives the same answer');
  }
  assert.equal(sha256Hex(new TextEncoder().encode('abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  assert.throws(() => { const h = new Sha256(); h.hexDigest(); h.update(new Uint8Array(1)); }, /after digest/);
});

test('parseContentRange', () => {
  assert.deepEqual(parseContentRange('bytes 10-19/100'), { start: 10, end: 19, total: 100 });
  assert.deepEqual(parseContentRange('bytes 0-0/*'), { start: 0, end: 0, total: undefined });
  assert.equal(parseContentRange('items 1-2/3'), null);
  assert.equal(parseContentRange(null), null);
});

test('downloadToSink: resumes by Range after drops, checks sha256, gives up on 404 at once', { timeout: 60_000 }, async (t) => {
  const srv = await server();
  t.after(() => srv.close());
  const name = 'dl.bin';
  const data = crypto.randomBytes(3_000_000);
  fs.writeFileSync(path.join(fixtures(), name), data);
  const sum = crypto.createHash('sha256').update(data).digest('hex');
  const collect = () => {
    const parts = [];
    return { parts, sink: { begin: (size) => { parts.size = size; }, write: (c) => parts.push(Buffer.from(c)) } };
  };

  srv.faults.set(name, { dropAt: 1_000_000, times: 2 });
  const a = collect();
  const r = await downloadToSink(`${srv.origin}/fx/${name}`, a.sink, { sha256: sum, retryDelayMs: 5 });
  assert.equal(a.parts.size, data.length);
  assert.ok(Buffer.concat(a.parts).equals(data), 'bytes arrive whole and in order');
  assert.equal(r.sha256, sum);
  // The second attempt is cut before its headers (a failed fetch), the third resumes.
  assert.equal(r.resumed, 1);
  assert.equal(r.requests, 3);
  const ranges = srv.requests.filter((q) => q.path === `/fx/${name}`).map((q) => q.range);
  assert.deepEqual(ranges, [null, 'bytes=1000000-', 'bytes=1000000-'], 'resumed from the last byte received');

  const b = collect();
  await assert.rejects(downloadToSink(`${srv.origin}/fx/${name}`, b.sink, { sha256: 'f'.repeat(64), retryDelayMs: 5 }),
    (e) => e.code === 'ERR_CHECKSUM' && /expected f{64}/.test(e.message));

  const count = srv.requests.length;
  await assert.rejects(downloadToSink(`${srv.origin}/fx/none.bin`, collect().sink, { retryDelayMs: 5 }),
    (e) => e.code === 'ERR_FETCH' && /HTTP 404/.test(e.message));
  assert.equal(srv.requests.length - count, 1, 'no retry for a 404');

  srv.faults.set(name, { status: 503, times: 2 });
  const c = collect();
  await downloadToSink(`${srv.origin}/fx/${name}`, c.sink, { retryDelayMs: 5 });
  assert.ok(Buffer.concat(c.parts).equals(data), 'a 503 is retried');

  const controller = new AbortController();
  srv.faults.set(name, { dropAt: 10 });
  const pending = downloadToSink(`${srv.origin}/fx/${name}`, collect().sink, { retryDelayMs: 2000, signal: controller.signal });
  setTimeout(() => controller.abort(), 200);
  await assert.rejects(pending, (e) => e.code === 'ERR_ABORTED');
  srv.faults.delete(name);
});
