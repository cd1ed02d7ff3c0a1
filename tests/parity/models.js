/**
 * Synthetic models for parity tests and benchmarks, generated once and kept
 * under .cache/synth/ (gitignored). A file's name hashes its options and the
 * generator's sources, so changing either regenerates it.
 */
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { makeSynthetic } from '../../tools/make-synthetic.js';
import { CACHE_DIR } from './oracle.js';
import { SHARED_DIR } from '../../tools/shared-data.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED = SHARED_DIR;
export const VOCAB_LLAMA_SPM = path.join(SHARED, 'data', 'vocab', 'ggml-vocab-llama-spm.gguf');

function generatorHash() {
  const h = crypto.createHash('sha256');
  for (const f of ['tools/make-synthetic.js', 'tools/gguf-writer.js', 'tools/quantize.js']) h.update(fs.readFileSync(path.join(repoRoot, f)));
  return h.digest('hex').slice(0, 12);
}

/**
 * Path(s) of a cached synthetic model, generating it if needed.
 * @param {Parameters<typeof makeSynthetic>[0] & { name?: string }} options (no `out`)
 * @returns {string[]} the file, or the shards in order when `split` > 1
 */
export function ensureSynthetic(options) {
  const opts = { vocab: VOCAB_LLAMA_SPM, seed: 1, ...options };
  const key = crypto.createHash('sha256').update(JSON.stringify({ ...opts, gen: generatorHash() })).digest('hex').slice(0, 10);
  const label = [opts.arch, opts.shape, opts.type, opts.name].filter(Boolean).join('-');
  const dir = path.join(CACHE_DIR, 'synth');
  const out = path.join(dir, `${label}-${key}.gguf`);
  const manifest = `${out}.json`;
  if (fs.existsSync(manifest)) {
    const paths = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    if (paths.every((p) => fs.existsSync(p))) return paths;
  }
  fs.mkdirSync(dir, { recursive: true });
  const { paths } = makeSynthetic({ ...opts, out });
  fs.writeFileSync(manifest, JSON.stringify(paths));
  return paths;
}

/** The first ~`chars` characters of tinyshakespeare (a long, natural prompt). */
export function corpusPrompt(chars = 700) {
  const text = fs.readFileSync(path.join(SHARED, 'data', 'corpus', 'tinyshakespeare.txt'), 'utf8');
  return text.slice(0, chars);
}
