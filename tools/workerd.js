/**
 * Runs the workerd binary from tests/ref (npm `workerd`) on a free localhost
 * port, for the edge tests and measurements. Only this process's own child is
 * ever stopped.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { collectModules, renderConfig } from './edge-bundle.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/**
 * The platform binary itself, not npm's `.bin/workerd` shim: the shim is a
 * node script that spawns the binary, so stopping the shim would orphan a
 * workerd that keeps our stdout pipes open and the test process alive.
 */
export const WORKERD_BIN = resolveWorkerdBinary();

function resolveWorkerdBinary() {
  const ref = path.join(ROOT, 'tests/ref/package.json');
  try {
    const bin = createRequire(ref)('workerd').default;
    if (typeof bin === 'string' && fs.existsSync(bin)) return bin;
  } catch {
    // not installed: the caller skips with a message naming this path
  }
  return path.join(ROOT, 'tests/ref/node_modules/workerd/bin/workerd');
}

/** A port the OS says is free right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on the port. */
async function waitForPort(port, deadline, exited) {
  for (;;) {
    if (exited()) throw new Error('workerd exited before it listened');
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`workerd did not listen on port ${port} in time`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Starts workerd on a free port: on `config` (an existing config file), or on
 * one generated into `dir` for `entry` (embedding `model` in place of the
 * bundled .gguf, if given).
 * @param {{ config?: string, dir?: string, entry?: string, model?: string, timeoutMs?: number,
 *   vars?: Record<string, string>, localFetch?: boolean }} o  vars, localFetch: see renderConfig
 * @returns {Promise<{ url: string, pid: number, startMs: number, log: () => string, stop: () => Promise<void> }>}
 */
export async function startWorkerd(o) {
  if (!fs.existsSync(WORKERD_BIN)) throw new Error(`workerd is not installed (${WORKERD_BIN}); run \`node tools/setup.js --test\``);
  const port = await freePort();
  let configFile = o.config;
  if (!configFile) {
    if (!o.dir) throw new Error('startWorkerd needs a config file or a dir to write one into');
    configFile = path.join(o.dir, 'config.capnp');
    const entry = o.entry ?? 'demo/edge-worker/worker.mjs';
    fs.writeFileSync(configFile, renderConfig(collectModules(entry), { outFile: configFile, port, model: o.model, entry, vars: o.vars, localFetch: o.localFetch }));
  }
  const t0 = Date.now();
  // The socket named "http" in the config is moved to our port.
  const child = spawn(WORKERD_BIN, ['serve', path.basename(configFile), '--socket-addr', `http=127.0.0.1:${port}`], {
    cwd: path.dirname(configFile), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = false;
  const exit = new Promise((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 3000);
    await exit;
    clearTimeout(timer);
  };
  try {
    await waitForPort(port, Date.now() + (o.timeoutMs ?? 30000), () => exited);
  } catch (e) {
    await stop();
    throw new Error(`${e.message}\n${output}`);
  }
  return { url: `http://127.0.0.1:${port}`, pid: child.pid, startMs: Date.now() - t0, log: () => output, stop };
}

/** Resident and peak resident memory of a process, in bytes (Linux). */
export function processMemory(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}
