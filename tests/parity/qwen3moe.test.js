// Parity of the qwen3moe architecture (mixture of experts) with llama.cpp on a tiny synthetic model
// (see arch-parity.js), at 1 and 2 threads.
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'qwen3moe', allThreads: true });
