// Parity of the granite architecture with llama.cpp on a tiny synthetic model (see arch-parity.js).
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'granite' });
