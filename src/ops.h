/* Per-row transformer operations on f32 activations. The rounding follows
 * ggml's CPU path (where it sums in double, we do too) so our greedy tokens
 * match llama.cpp's on the same weights. */
#ifndef WL_OPS_H
#define WL_OPS_H

#include <stdint.h>
#include "model.h"
#include "types.h"

/* out = x / sqrt(mean(x^2) + eps) * w  (w NULL: no weight). out may be x. */
void wl_rmsnorm(float *out, const float *x, const float *w, int n, float eps);
/* out = (x - mean) / sqrt(var + eps) * w + b  (w, b may be NULL). out may be x. */
void wl_layernorm(float *out, const float *x, const float *w, const float *b, int n, float eps);

/* Fills cs[2i], cs[2i+1] = cos, sin of the angle of rotated pair i at
 * position pos, for i < n_rot/2: theta = pos * base^(-2i/n_rot) / freq_factors[i],
 * then linear/YaRN scaling as ggml's rope_yarn does. freq_factors may be NULL. */
void wl_rope_cache(float *cs, int n_rot, int pos, float base, float freq_scale,
                   const float *freq_factors, const wl_yarn *yarn);
/* Rotates the first n_rot dims of each of n_heads vectors of head_dim floats. */
void wl_rope_apply(float *x, int n_heads, int head_dim, int n_rot, const float *cs,
                   wl_rope_mode mode);

/* In-place softmax with max subtraction; returns nothing, sums in double. */
void wl_softmax(float *x, int n);
/* tanh softcap: x = cap * tanh(x / cap). */
void wl_softcap(float *x, int n, float cap);

float wl_silu(float x);
/* ggml's tanh-approximated GELU, including its f16 lookup-table rounding. */
float wl_gelu(float x);
/* out[i] = act(gate[i]) * up[i]; out may alias gate. */
void wl_gated_act(float *out, const float *gate, const float *up, int n, wl_activation act);
/* x[i] = act(x[i]) (ungated FFN). */
void wl_act_inplace(float *x, int n, wl_activation act);

void wl_add(float *x, const float *y, int n);              /* x += y */
void wl_add_scaled(float *x, const float *y, float s, int n); /* x += s*y */
void wl_scale(float *x, float s, int n);                   /* x *= s */

/* The f16 running sum of flash attention: acc[i] = f16(acc[i] + v[i] * s)
 * with v in f16, and acc[i] = f16(acc[i] * s), each result rounded to the
 * nearest f16 value but kept as float. SIMD128 when built with it; the
 * _ref twins are scalar and give the same bits. */
void wl_f16_acc_mad(float *acc, const uint16_t *v, float s, int n);
void wl_f16_acc_mad_ref(float *acc, const uint16_t *v, float s, int n);
void wl_f16_acc_scale(float *acc, float s, int n);
void wl_f16_acc_scale_ref(float *acc, float s, int n);

/* sum k[i] * q[i] over an f16 row and floats: an attention score against
 * an F16 K row, with q's f16 values converted once per head. Under SIMD128
 * the same lanes and order as F16's vec_dot (so the same bits); the _ref
 * twin sums in double like f16_dot_f16_ref. */
float wl_f16_dot_f32(const uint16_t *k, const float *q, int n);
float wl_f16_dot_f32_ref(const uint16_t *k, const float *q, int n);

/* Attention of one query head over cached positions [kv_lo, kv_hi), the way
 * ggml's CPU flash attention computes it for one query row and this cache
 * type: q converted to K's vec_dot_type (f16 for an F16 K, Q8_0 for a Q8_0
 * K) and dotted with K's own vec_dot; s = (q . k_j) * scale (or softcap *
 * tanh(s * scale / softcap)); online softmax; the weighted sum of V kept in
 * f16 for an F16 V (rounded after every update), else in f32 from each V
 * row dequantized, positions in increasing order. k/v point at row 0 of
 * this head's K/V; rows are `stride` bytes apart, position j in row j, or
 * in row j % ring_rows when ring_rows > 0 (a sliding-window ring). */
typedef struct {
    const void *k;
    const void *v;
    size_t k_stride, v_stride;
    wl_type k_type, v_type; /* WL_TYPE_F16 or WL_TYPE_Q8_0 */
    int head_dim_k, head_dim_v;
    float scale;
    float softcap;
    int ring_rows; /* 0: not a ring */
} wl_attn_head;
/* Floats of scratch one wl_attend call needs: q in K's vec_dot_type, and
 * a dequantized V row unless V is F16. */
int64_t wl_attend_scratch_floats(wl_type k_type, wl_type v_type, int head_dim_k, int head_dim_v);
void wl_attend(const wl_attn_head *h, const float *q, int kv_lo, int kv_hi, float *out,
               float *scratch);
/* The same for n_q query heads sharing this K/V head (grouped-query
 * attention): q holds their vectors one after another (head_dim_k apart),
 * out gets head_dim_v floats per head. Bit for bit n_q calls of wl_attend;
 * with an F16 cache under SIMD128 each K and V row is converted once for
 * several heads. scratch: wl_attend_group_scratch_floats floats. */
void wl_attend_group(const wl_attn_head *h, const float *q, int n_q, int kv_lo, int kv_hi, float *out,
                     float *scratch);
int64_t wl_attend_group_scratch_floats(wl_type k_type, wl_type v_type, int head_dim_k, int head_dim_v, int n_q);

#endif
