// `wasmllm chat` driven as a separate process: through a pipe (each line a
// turn, /reset, EOF exit, SIGINT stopping one answer) and through a
// pseudo-terminal made by `script` (Ctrl-C keys, Ctrl-D).
//
// Most cases use a scripted stand-in model injected into runChatCli, so the
// REPL's behaviour is checked exactly and quickly; the last case runs the
// real wasm runtime on a small synthetic GGUF through web/node/cli.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseChatArgs } from '../../web/node/cli-chat.js';

const ROOT = path.resolve(fileURLToPath(import.meta.url), '../../..');
const CLI_CHAT_URL = pathToFileURL(path.join(ROOT, 'web/node/cli-chat.js')).href;

/**
 * A child-process program running runChatCli with a stand-in model. Its
 * answers report what the model was given ("turn N: M messages, last=...")
 * so the tests can see the conversation the REPL keeps. A user line "slow"
 * streams dots until aborted.
 */
const HARNESS = `
import { runChatCli } from ${JSON.stringify(CLI_CHAT_URL)};
let turn = 0;
const fakeModel = {
  metadata: new Map([['general.name', 'stand-in']]),
  chat(messages, opts) {
    turn++;
    const last = messages[messages.length - 1].content;
    const roles = messages.map((m) => m.role[0]).join('');
    return (async function* () {
      if (last === 'slow') {
        for (;;) {
          if (opts.signal.aborted) throw Object.assign(new Error('aborted'), { code: 'ERR_ABORTED' });
          yield { token: 1, text: '.' };
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      const answer = 'turn ' + turn + ': ' + messages.length + ' messages [' + roles + '], last=' + last;
      for (const word of answer.split(/(?= )/)) {
        yield { token: 1, text: word };
        await new Promise((r) => setImmediate(r));
      }
    })();
  },
  dispose() { process.stderr.write('[disposed]\\n'); },
};
const code = await runChatCli(process.argv.slice(process.argv[1]?.endsWith(".mjs") ? 2 : 1), { loadModel: async () => fakeModel });
process.exitCode = code;
`;

/** Starts the harness with a piped stdin. */
function startPiped(args = []) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', HARNESS, '--', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (d) => { out.stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { out.stderr += d; });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, out, exited };
}

/** Resolves once `pred()` holds, polling; fails after `ms`. */
async function until(pred, ms, what) {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('chat args: sampling flags, defaults, bad values', () => {
  const a = parseChatArgs(['--system', 'Be brief.', '--temperature', '0', '--top-k', '5', '-n', '16', '-t', '2', '--ctx-size', '512', '--seed', '7', '--no-think']);
  assert.equal(a.verbose, false);
  assert.equal(a.system, 'Be brief.');
  assert.deepEqual(a.sampling, { maxTokens: 16, temperature: 0, topK: 5, seed: 7 });
  assert.deepEqual(a.load, { threads: 2, contextSize: 512 });
  assert.deepEqual(a.extra, { enable_thinking: false });
  assert.match(a.model, /models[/\\]shakespeare\.gguf$/, 'the embedded model by default');
  assert.equal(parseChatArgs(['--model', 'https://x/y.gguf']).model, 'https://x/y.gguf');
  assert.deepEqual(parseChatArgs(['-c', '256', '--stop', 'END', '--stop', '###']).sampling, { maxTokens: 512, stop: ['END', '###'] });
  assert.equal(parseChatArgs(['-c', '256']).load.contextSize, 256);
  for (const bad of [['--top-k', '1.5'], ['--temperature', 'hot'], ['--temperature', ''], ['--threads', '0'], ['-n', '-1'], ['--bogus'], ['stray']]) {
    assert.throws(() => parseChatArgs(bad), (e) => e.code === 'ERR_BAD_ARG', bad.join(' '));
  }
});

test('piped lines are turns; the conversation is kept; /reset clears it; EOF exits', async () => {
  const { child, out, exited } = startPiped(['--system', 'Be brief.']);
  child.stdin.end('hello\nhow are you\n/reset\nagain\n');
  const { code } = await exited;
  assert.equal(code, 0, out.stderr);
  assert.deepEqual(out.stdout.split('\n'), [
    'turn 1: 2 messages [su], last=hello',
    'turn 2: 4 messages [suau], last=how are you',
    'turn 3: 2 messages [su], last=again',
    '',
  ]);
  assert.match(out.stderr, /\(conversation cleared\)/);
  assert.match(out.stderr, /\[disposed\]/, 'the model is freed on exit');
});

test('piped: /exit stops reading; empty lines are skipped', async () => {
  const { child, out, exited } = startPiped();
  child.stdin.end('\n   \nfirst\n/exit\nnever\n');
  const { code } = await exited;
  assert.equal(code, 0);
  assert.equal(out.stdout, 'turn 1: 1 messages [u], last=first\n');
});

test('SIGINT stops the current answer only; the partial answer stays in the conversation', async () => {
  const { child, out, exited } = startPiped();
  child.stdin.write('slow\n');
  await until(() => out.stdout.includes('...'), 5000, 'the slow answer to stream');
  child.kill('SIGINT');
  await until(() => out.stderr.includes('[answer stopped]'), 5000, 'the answer to stop');
  child.stdin.end('next\n');
  const { code, signal } = await exited;
  assert.equal(signal, null, 'the program must survive Ctrl-C');
  assert.equal(code, 0);
  const lines = out.stdout.split('\n');
  assert.match(lines[0], /^\.{3,}$/);
  assert.equal(lines[1], 'turn 2: 3 messages [uau], last=next');
});

test('SIGINT while waiting for input exits', async () => {
  const { child, out, exited } = startPiped();
  child.stdin.write('hi\n');
  await until(() => out.stdout.includes('last=hi\n'), 5000, 'the first answer');
  child.kill('SIGINT');
  const { code, signal } = await exited;
  assert.equal(signal, null);
  assert.equal(code, 0);
});

const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

test('terminal: Ctrl-C stops an answer, Ctrl-C at an empty prompt asks first, Ctrl-D exits', { skip: !hasScript && 'util-linux script(1) is not installed' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasmllm-chat-pty-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const harness = path.join(dir, 'harness.mjs');
  fs.writeFileSync(harness, HARNESS);
  const start = () => {
    // script(1) gives the child a pseudo-terminal and copies our pipe into it.
    // It runs the command through $SHELL -c; `exec` makes node the terminal's
    // only foreground process, or a shell that stays (dash does) dies of the
    // Ctrl-C itself and script reports 130 whatever node did.
    const child = spawn('script', ['-qfec', `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(harness)}`, '/dev/null'],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'dumb' } });
    const out = { text: '' };
    child.stdout.setEncoding('utf8').on('data', (d) => { out.text += d; });
    const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    return { child, out, exited };
  };

  await t.test('Ctrl-C during an answer, then Ctrl-D', async () => {
    const { child, out, exited } = start();
    await until(() => out.text.includes('> '), 10000, 'the prompt');
    child.stdin.write('slow\r');
    await until(() => out.text.includes('....'), 5000, 'the answer to stream');
    child.stdin.write('\x03');
    await until(() => out.text.includes('[answer stopped]'), 5000, 'the answer to stop');
    const mark = out.text.length;
    await until(() => out.text.slice(mark).includes('> ') || out.text.endsWith('> '), 5000, 'a new prompt');
    child.stdin.write('after\r');
    await until(() => out.text.includes('last=after'), 5000, 'the next answer');
    assert.match(out.text, /turn 2: 3 messages \[uau\], last=after/);
    child.stdin.write('\x04');
    assert.equal(await exited, 0, out.text);
  });

  await t.test('Ctrl-C twice at an empty prompt exits; Ctrl-C with text clears the line', async () => {
    const { child, out, exited } = start();
    await until(() => out.text.includes('> '), 10000, 'the prompt');
    child.stdin.write('typed but not sent');
    await until(() => out.text.includes('typed but not sent'), 5000, 'the echo');
    child.stdin.write('\x03');
    await until(() => out.text.includes('^C'), 5000, 'the cleared line');
    child.stdin.write('\x03');
    await until(() => out.text.includes('To exit, press Ctrl-C again'), 5000, 'the hint');
    child.stdin.write('\x03');
    assert.equal(await exited, 0, out.text);
    assert.ok(!out.text.includes('turn 1'), 'the cleared line must not have been sent');
  });
});
