// Parity of the gemma2 architecture with llama.cpp on a tiny synthetic model (see arch-parity.js).
import { defineArchParity } from './arch-parity.js';

// Its sliding-window layers keep a ring of 32 + 31 + 32 = 95 rows (src/kv_cache.h) in the 512-token
// context the runner loads: the long prompt (225 tokens) and its 64 continuations wrap it twice.

// F32 only: llama.cpp gives gemma2 no output matrix of its own, and a tied random model only avoids
// repeating one token with sharp attention and loud layers, which also amplify Q8_0 rounding
// differences between two correct runtimes into different tokens. The quantized kernels are
// architecture-independent and covered by the other architectures' Q8_0 tests.
defineArchParity({ arch: 'gemma2', types: ['F32'] });
