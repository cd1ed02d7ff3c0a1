/**
 * Model files on disk, for the Node host only. web/sources.js knows no file
 * system: browsers, bundlers and edge runtimes load it too, and a `node:fs`
 * import there breaks their builds (Vite externalizes it, workerd has none).
 * The Node entry hands `openPath` to loadModel/readHeaders instead.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { WasmllmError } from '../errors.js';

const CHUNK = 4 << 20;

/**
 * Opens a path or file: URL for web/sources.js (see its Opened type).
 * @param {string | URL} where
 * @returns {Promise<import('../sources.js').Opened>}
 */
export async function openPath(where) {
  const path = where instanceof URL || /^file:/i.test(where) ? fileURLToPath(where) : where;
  let size;
  try {
    const st = await fs.promises.stat(path);
    if (!st.isFile()) throw new WasmllmError('ERR_NOT_FOUND', `${path} is not a file`);
    size = st.size;
  } catch (e) {
    if (e instanceof WasmllmError) throw e;
    if (e?.code === 'ENOENT') throw new WasmllmError('ERR_NOT_FOUND', `model file not found: ${path}`, { cause: e });
    throw new WasmllmError('ERR_NOT_FOUND', `cannot read ${path}: ${e?.message ?? e}`, { cause: e });
  }
  /** Reads [pos, pos + len) of the file into view, looping over short reads. */
  const readFully = async (view, pos, len) => {
    const fh = await fs.promises.open(path, 'r');
    try {
      let done = 0;
      while (done < len) {
        const { bytesRead } = await fh.read(view, done, len - done, pos + done);
        if (bytesRead === 0) throw new WasmllmError('ERR_TRUNCATED', `${path} ended after ${pos + done} bytes while reading`);
        done += bytesRead;
      }
    } finally {
      await fh.close();
    }
  };
  return {
    name: path,
    size,
    // A plain Uint8Array, not a Buffer: gguf.js slices it and expects copies.
    readPrefix: async (n) => {
      const out = new Uint8Array(Math.min(n, size));
      await readFully(out, 0, out.length);
      return out;
    },
    stream: async (write, signal) => {
      const fh = await fs.promises.open(path, 'r');
      try {
        const buf = new Uint8Array(Math.min(CHUNK, size));
        for (let pos = 0; pos < size;) {
          signal?.throwIfAborted();
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
          if (bytesRead === 0) throw new WasmllmError('ERR_TRUNCATED', `${path} shrank while it was being read`);
          write(buf.subarray(0, bytesRead));
          pos += bytesRead;
        }
      } finally {
        await fh.close();
      }
    },
  };
}
