// Parity of the smallthinker architecture (mixture of experts) with llama.cpp on a tiny synthetic model
// (see arch-parity.js), at 1 and 2 threads.
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'smallthinker', allThreads: true });
// Without a sliding_window key every layer is global and rotates; softmax gating.
defineArchParity({ arch: 'smallthinker', name: 'softmax, no SWA', overrides: { gatingFunc: 1, slidingWindow: 0 }, types: ['F32'], allThreads: true });
