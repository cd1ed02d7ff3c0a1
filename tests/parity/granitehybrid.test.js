// Parity of the granitehybrid architecture (Granite 4.0-H: Mamba-2 layers around attention layers,
// SwiGLU FFNs, granite's multipliers, no RoPE) with llama.cpp on a tiny synthetic model (see
// arch-parity.js), at 1 and 2 threads, prefix reuse included (teacher-forcing).
import { defineArchParity } from './arch-parity.js';

defineArchParity({ arch: 'granitehybrid', allThreads: true });

// Granite 4.0-H Tiny/Small's shape: every FFN a mixture of experts with a shared expert; RoPE on
// (rope.scaling.finetuned true) so the attention layers' positions are covered too.
defineArchParity({
  arch: 'granitehybrid', name: 'moe+rope', allThreads: true,
  overrides: { nExpert: 8, nExpertUsed: 2, ffnExp: 256, ffnShexp: 256, rope: true },
});
