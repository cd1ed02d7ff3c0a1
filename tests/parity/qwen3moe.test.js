// Parity of the qwen3moe architecture (mixture of experts) with llama.cpp on a tiny synthetic model
// (see arch-parity.js), at 1 and 2 threads.
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'qwen3moe', types: ['F32'], allThreads: true });
// Q8_0 with 4 of 8 experts and FFN outputs at half gain (as lfm2moe's synthetic model): with 2 at
// full gain, random weights leave router near-ties that the activations' int8 rounding flips, and
// the count moved with the host's CPU (62-63 of 64 on one, 59 on another, with the same wasm
// build) as smallthinker's did (tests/parity/smallthinker.test.js).
defineArchParity({ arch: 'qwen3moe', name: '4 experts used, half-gain FFN', overrides: { nExpertUsed: 4, gains: { ffnDown: 0.5 } }, types: ['Q8_0'], allThreads: true });
