// Parity of the lfm2moe architecture (LFM2's convolutions + attention, a dense first layer, then
// mixtures of experts with sigmoid gating and an expert bias) with llama.cpp on a tiny synthetic
// model (see arch-parity.js), at 1 and 2 threads; teacher-forcing reuses the cached prefix.
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'lfm2moe', allThreads: true });
// The Q8_0 file's weights as F32 values: exact, so what Q8_0 runs leave to the 60/64 bar is the
// activations' int8 rounding (which expert choices amplify), not the weights or the routing.
defineArchParity({ arch: 'lfm2moe', name: 'Q8_0 weights as F32', dequantized: true, types: ['Q8_0'], allThreads: true });
// Softmax gating (expert_gating_func 1) with the same bias, and no dense layer.
defineArchParity({ arch: 'lfm2moe', name: 'softmax, all MoE', overrides: { gatingFunc: 1, denseLead: 0 }, types: ['F32'], allThreads: true });
