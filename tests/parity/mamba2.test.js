// Parity of the mamba2 architecture (Mamba-2 selective-scan layers only, no FFN) with llama.cpp on a
// tiny synthetic model (see arch-parity.js; 2 groups of B/C so the grouping is exercised), at 1 and
// 2 threads. Teacher-forcing takes back the last token at every step, which restarts the scan's
// state (it cannot rewind), so it also covers recomputing a sequence from position 0.
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'mamba2', allThreads: true });
