// Parity of the falcon-h1 architecture (attention and a Mamba-2 mixer side by side in every layer,
// then a SwiGLU FFN) with llama.cpp on a tiny synthetic model (see arch-parity.js), at 1 and 2
// threads, prefix reuse included (teacher-forcing restarts the scan's state at every step).
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'falcon-h1', allThreads: true });
