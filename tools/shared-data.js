/**
 * Where the project's reference data lives: ../shared next to the checkout
 * (llama.cpp's tokenizer vectors, chat templates, the corpus), or the folder
 * WASMLLM_SHARED names when the checkout sits elsewhere.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED_DIR = process.env.WASMLLM_SHARED ?? path.resolve(repoRoot, '..', 'shared');

/** A path under the shared folder, e.g. sharedPath('data', 'vocab', 'x.gguf'). */
export const sharedPath = (...parts) => path.join(SHARED_DIR, ...parts);
