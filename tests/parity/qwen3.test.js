// Parity of the qwen3 architecture with llama.cpp on a tiny synthetic model (see arch-parity.js).
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'qwen3' });
