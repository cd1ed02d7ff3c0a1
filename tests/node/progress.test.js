/** The CLI's download progress bar: formatting, and a real load over HTTP. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import { formatProgress, formatBytes } from '../../web/node/progress.js';
import { EMBEDDED, runCli } from './runtime-fixtures.js';

test('formatProgress shows bytes, percentage, rate and ETA', () => {
  const line = formatProgress({ label: 'm.gguf', loaded: 5 * 2 ** 20, total: 20 * 2 ** 20, elapsedMs: 1000, width: 10 });
  assert.equal(line, 'm.gguf  [###.......]   25%  5.00 MB/20.0 MB  5.00 MB/s  ETA 3s');
  assert.equal(formatProgress({ label: 'x', loaded: 2048, elapsedMs: 2000 }), 'x  2.00 kB  1.00 kB/s');
  assert.equal(formatBytes(999), '999 B');
});

test('wasmllm run --model URL draws the bar on stderr; --quiet hides it', { timeout: 60_000 }, async () => {
  const data = fs.readFileSync(EMBEDDED);
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-length': data.length });
    let i = 0;
    const send = () => {
      if (i >= data.length) return res.end();
      res.write(data.subarray(i, i + (1 << 20)));
      i += 1 << 20;
      setTimeout(send, 5);
    };
    send();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/shakespeare.gguf`;
  try {
    const shown = await runCli(['run', '--model', url, '--prompt', 'ROMEO:', '-n', '4', '--seed', '1']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stderr, /shakespeare\.gguf {2}\[#+\] {2}100% {2}13\.\d+ MB\/13\.\d+ MB {2}[\d.]+ [kMG]?B\/s/);
    const quiet = await runCli(['run', '--model', url, '--prompt', 'ROMEO:', '-n', '4', '--seed', '1', '--quiet']);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /100%/);
  } finally {
    server.close();
  }
});
