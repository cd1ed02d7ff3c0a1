// Parity of the smallthinker architecture (mixture of experts) with llama.cpp on a tiny synthetic model
// (see arch-parity.js), at 1 and 2 threads.
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'smallthinker', types: ['F32'], allThreads: true });
// Q8_0: with 2 of 8 experts chosen by a sigmoid router, the int8 rounding of the activations flips
// expert choices that random weights leave nearly tied, and each flip changes the next token: the
// agreement then depends on which of llama.cpp's native kernels this CPU gets (59 to 62 of 64
// seen on one model). Four experts keep the choices apart, as in lfm2moe.
const Q8_SHAPE = { nExpertUsed: 4 };
defineArchParity({ arch: 'smallthinker', name: '4 experts used', overrides: Q8_SHAPE, types: ['Q8_0'], allThreads: true });
// Without a sliding_window key every layer is global and rotates; softmax gating.
defineArchParity({ arch: 'smallthinker', name: 'softmax, no SWA', overrides: { gatingFunc: 1, slidingWindow: 0 }, types: ['F32'], allThreads: true });
