// Parity of the phi3 architecture with llama.cpp on a tiny synthetic model (see arch-parity.js).
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'phi3', vocab: 'ggml-vocab-phi-3.gguf' });
