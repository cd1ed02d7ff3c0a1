// Parity of the lfm2 architecture (gated short convolutions + attention) with llama.cpp on a tiny
// synthetic model (see arch-parity.js), at 1 and 2 threads. Teacher-forcing reuses the cached
// prefix, which the convolution windows must rewind; lfm2-state.test.js covers deeper edits.
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'lfm2', allThreads: true });
