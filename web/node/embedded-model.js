/** The Shakespeare model the package ships: the CLI's default, and loadModel(embeddedModelPath) for users. */
import { fileURLToPath } from 'node:url';

export const embeddedModelPath = fileURLToPath(new URL('../../models/shakespeare.gguf', import.meta.url));
/** Its draft model for speculative decoding (same vocabulary, 1M parameters: tools/train/distill.py). */
export const embeddedDraftModelPath = fileURLToPath(new URL('../../models/shakespeare-draft.gguf', import.meta.url));
