// Parity of the gemma2 architecture with llama.cpp on a tiny synthetic model (see arch-parity.js).
import { defineArchParity } from './arch-parity.js';

// F32 only: llama.cpp gives gemma2 no output matrix of its own, and a tied random model only avoids
// repeating one token with sharp attention and loud layers, which also amplify Q8_0 rounding
// differences between two correct runtimes into different tokens. The quantized kernels are
// architecture-independent and covered by the other architectures' Q8_0 tests.
defineArchParity({ arch: 'gemma2', types: ['F32'] });
