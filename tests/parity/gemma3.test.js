// Parity of the gemma3 architecture with llama.cpp on a tiny synthetic model (see arch-parity.js).
import { defineArchParity } from './arch-parity.js';

// Its sliding-window layers keep a ring of 32 + 31 + 32 = 95 rows (src/kv_cache.h) in the 512-token
// context the runner loads: the long prompt (225 tokens) and its 64 continuations wrap it twice.

defineArchParity({ arch: 'gemma3' });
