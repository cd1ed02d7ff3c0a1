/* The kinds a layer is made of. A layer is a token mixer (how positions
 * exchange information: attention, or a short convolution) followed by a channel mixer (what each
 * position computes on its own: a dense FFN, or a mixture of experts); an
 * architecture says which kinds each layer has (wl_hparams.layer_mixer,
 * layer_channel) and forward.c's driver runs them in order.
 *
 * Each kind lives in its own file and provides the same three things:
 *   bind    - find its tensors for layer il in the file and check their shapes
 *   forward - run n tokens of the chunk: read c->x, add its output to c->x
 *             (row t belongs to sequence c->row_seq[t] at c->row_pos[t])
 *   free    - release what bind copied
 * Adding a kind = one file with these, one enum value in model.h, one case
 * in the driver and in the binder (model.c). */
#ifndef WL_LAYER_H
#define WL_LAYER_H

#include "file.h"
#include "forward.h"
#include "model.h"

/* attention.c */
wl_status wl_attention_bind(const wl_file *f, const wl_hparams *hp, int il, wl_attn_weights *w,
                            wl_error *err);
void wl_attention_forward(wl_context *c, int il, int n);
void wl_attention_free(wl_attn_weights *w);

/* shortconv.c */
wl_status wl_shortconv_bind(const wl_file *f, const wl_hparams *hp, int il, wl_shortconv_weights *w,
                            wl_error *err);
/* Rows t of the chunk belong to c->row_seq[t] (its ring) at c->row_pos[t]. */
void wl_shortconv_forward(wl_context *c, int il, int n);
void wl_shortconv_free(wl_shortconv_weights *w);
/* The convolution windows beside the KV cache (forward.h): bytes, allocation
 * (nothing for models without the kind), and the position a truncate to pos
 * can keep: pos, or 0 when the windows cannot go back that far. */
double wl_shortconv_state_bytes(const wl_hparams *hp);
wl_status wl_shortconv_state_init(wl_context *c, wl_error *err);
void wl_shortconv_state_free(wl_context *c);
int wl_shortconv_rewind(const wl_context *c, int pos);

/* ssm.c */
wl_status wl_ssm_bind(const wl_file *f, const wl_hparams *hp, int il, wl_ssm_weights *w, wl_error *err);
/* Rows t of the chunk continue c->row_seq[t]'s state (position 0 starts it). */
void wl_ssm_forward(wl_context *c, int il, int n);
/* The mixer alone: c->xn (normed rows) in, c->proj out (no residual). */
void wl_ssm_mix(wl_context *c, int il, int n);
void wl_ssm_free(wl_ssm_weights *w);
/* One row of a head's state, n = d_state values: s = s * a + b * x_dt,
 * returns the sum of s * c over the updated s. The SIMD128 version gives
 * the same s and sums the dot in four lanes; _ref is its scalar twin. */
float wl_ssm_state_row(float *s, const float *b, const float *c, float a, float x_dt, int n);
float wl_ssm_state_row_ref(float *s, const float *b, const float *c, float a, float x_dt, int n);
/* in_proj's output width (z, xBC, dt), for the scratch */
int64_t wl_ssm_proj_floats(const wl_hparams *hp);
/* The convolution windows and scan states beside the KV cache: bytes,
 * allocation (nothing for models without the kind), and the position a
 * truncate to pos can keep: pos when nothing is taken back, else 0. */
double wl_ssm_state_bytes(const wl_hparams *hp);
wl_status wl_ssm_state_init(wl_context *c, wl_error *err);
void wl_ssm_state_free(wl_context *c);
int wl_ssm_rewind(const wl_context *c, int pos);

/* parallel.c: attention and a Mamba-2 mixer side by side (falcon-h1) */
void wl_parallel_forward(wl_context *c, int il, int n);

/* ffn.c */
wl_status wl_ffn_bind(const wl_file *f, const wl_hparams *hp, int il, wl_ffn_weights *w, wl_error *err);
void wl_ffn_forward(wl_context *c, int il, int n);
void wl_ffn_free(wl_ffn_weights *w);
/* out = down(act(gate in) * up in) for n rows of in (n_embd wide) through
 * an FFN of n_ff rows, with its biases; uses c->gate and c->up. */
void wl_ffn_apply(wl_context *c, const wl_ffn_weights *w, int n_ff, const float *in, int n, float *out);

/* moe.c */
wl_status wl_moe_bind(const wl_file *f, const wl_hparams *hp, int il, wl_moe_weights *w, wl_error *err);
void wl_moe_forward(wl_context *c, int il, int n);
void wl_moe_free(wl_moe_weights *w);
/* The router's logits of n rows of x into c->moe_logits; wl_moe_forward
 * computes them itself unless hp->moe.route_on_input asks for the layer's
 * input, which the driver passes before the token mixer runs. */
void wl_moe_route(wl_context *c, int il, const float *x, int n);

/* model.c: tensor binding. A missing optional tensor leaves *out zeroed
 * (NULL) and returns WL_OK. */
wl_status wl_bind_matrix(const wl_file *f, const char *name, int64_t ne0, int64_t ne1, int required,
                         wl_matrix *out, wl_error *err);
wl_status wl_bind_vector(const wl_file *f, const char *name, int64_t n, int required, float **out,
                         wl_error *err);
/* A 3-D tensor [ne0, ne1, n_mat] as n_mat matrices of ne1 rows (out[i]
 * points at the i-th block of rows); *out NULL when absent and optional. */
wl_status wl_bind_matrices(const wl_file *f, const char *name, int64_t ne0, int64_t ne1, int64_t n_mat,
                           int required, wl_matrix **out, wl_error *err);

/* forward.c: what every kind's sub-block shares. */
void wl_norm_rows(const wl_hparams *hp, float *out, const float *x, const float *w, const float *b, int n);
void wl_add_bias_rows(float *x, const float *b, int width, int n);
void wl_project(wl_context *c, const wl_matrix *w, const float *x, int n, float *out);
/* Pre-norm of n rows of c->x into c->xn (encoders have none: a copy). */
void wl_block_input(wl_context *c, const float *w, const float *b, int n);
/* c->proj holds the sub-block's output: optional post-norm of it, then
 * c->x += residual_scale * proj, then the encoder's norm of the sum. */
void wl_block_output(wl_context *c, const float *post_w, const float *out_w, const float *out_b, int n);

/* Layer names: "blk.<il>.<suffix>" into buf. */
const char *wl_layer_tensor_name(char *buf, size_t cap, int il, const char *suffix);

/* For the bind functions: layer il's tensor name in their `name` buffer,
 * and a bind call that returns its status when it fails. */
#define WL_NAME(suffix) wl_layer_tensor_name(name, sizeof name, il, suffix)
#define WL_TRY(call) do { wl_status st_ = (call); if (st_ != WL_OK) return st_; } while (0)

#endif
