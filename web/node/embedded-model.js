/** The Shakespeare model the package ships: the CLI's default, and loadModel(embeddedModelPath) for users. */
import { fileURLToPath } from 'node:url';

export const embeddedModelPath = fileURLToPath(new URL('../../models/shakespeare.gguf', import.meta.url));
