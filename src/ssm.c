/* Token mixer: the Mamba-2 selective state-space layer (Dao & Gu 2024,
 * "Transformers are SSMs", the SSD layer; llama.cpp's build_mamba2_layer
 * with ggml_ssm_conv and ggml_ssm_scan):
 *
 *   h = norm(x);  [z, xBC, dt] = in_proj h
 *   xBC = silu(conv1d(xBC) + conv_b)        causal, depthwise, d_conv taps
 *   [x, B, C] = xBC                          x: n_head heads of head_dim;
 *                                            B, C: d_state per group
 *   per head h (group g):  dt' = softplus(dt_h + dt_b_h),  a = exp(dt' A_h)
 *     S_h = a S_h + dt' x_h B_g^T           S_h: [head_dim][d_state]
 *     y_h = S_h C_g + D_h x_h
 *   y = rmsnorm_per_group(y * silu(z)) * norm
 *   x += out_proj y
 *
 * A sequence carries, per layer, the last d_conv - 1 rows of xBC and the
 * states S: a fixed size whatever the context length, so decode costs the
 * same at any position. S cannot be run backwards, so a truncate that
 * takes back tokens starts the sequence over (wl_ssm_rewind); position 0
 * always starts from zero states.
 *
 * Each channel's convolution and each head's scan are independent, so the
 * threads split channels, then heads, and run the chunk's rows in order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "ops.h"
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

static int64_t conv_dim(const wl_hparams *hp) {
    return hp->ssm.d_inner + 2 * (int64_t)hp->ssm.n_group * hp->ssm.d_state;
}

/* z, xBC, dt: the width of in_proj's output */
static int64_t proj_dim(const wl_hparams *hp) { return hp->ssm.d_inner + conv_dim(hp) + hp->ssm.n_head; }

int64_t wl_ssm_proj_floats(const wl_hparams *hp) { return proj_dim(hp); }

/* ---- binding ---- */

/* A [1, n] or [n] tensor (A, D: one value per head) copied to f32. */
static wl_status bind_per_head(const wl_file *f, const char *name, int64_t n, float **out, wl_error *err) {
    wl_matrix m;
    wl_status st = wl_bind_matrix(f, name, 1, n, 1, &m, err);
    if (st != WL_OK) return st;
    *out = malloc((size_t)n * sizeof(float));
    if (!*out) return wl_fail(err, WL_ERR_OOM, "out of memory copying %s", name);
    for (int64_t i = 0; i < n; i++) wl_matrix_get_row(&m, i, *out + i);
    return WL_OK;
}

wl_status wl_ssm_bind(const wl_file *f, const wl_hparams *hp, int il, wl_ssm_weights *w, wl_error *err) {
    char name[96];
    const int64_t n_embd = hp->n_embd, d_inner = hp->ssm.d_inner, n_head = hp->ssm.n_head;
    const int64_t d_conv = hp->ssm.d_conv, n_conv = conv_dim(hp);
    WL_TRY(wl_bind_vector(f, WL_NAME("attn_norm.weight"), n_embd, 1, &w->attn_norm, err));
    WL_TRY(wl_bind_matrix(f, WL_NAME("ssm_in.weight"), n_embd, proj_dim(hp), 1, &w->in_proj, err));
    WL_TRY(wl_bind_matrix(f, WL_NAME("ssm_out.weight"), d_inner, n_embd, 1, &w->out_proj, err));
    WL_TRY(wl_bind_vector(f, WL_NAME("ssm_conv1d.bias"), n_conv, 0, &w->conv_b, err));
    WL_TRY(wl_bind_vector(f, WL_NAME("ssm_dt.bias"), n_head, 1, &w->dt_b, err));
    WL_TRY(bind_per_head(f, WL_NAME("ssm_a"), n_head, &w->a, err));
    WL_TRY(bind_per_head(f, WL_NAME("ssm_d"), n_head, &w->d, err));
    /* [d_inner / n_group, n_group]: the groups' weights one after another */
    wl_matrix norm;
    WL_TRY(wl_bind_matrix(f, WL_NAME("ssm_norm.weight"), d_inner / hp->ssm.n_group, hp->ssm.n_group,
                          !hp->ssm.norm_optional, &norm, err));
    if (norm.data) {
        w->norm = malloc((size_t)d_inner * sizeof(float));
        if (!w->norm) return wl_fail(err, WL_ERR_OOM, "out of memory copying %s", name);
        for (int64_t g = 0; g < hp->ssm.n_group; g++) {
            wl_matrix_get_row(&norm, g, w->norm + g * (d_inner / hp->ssm.n_group));
        }
    }
    wl_matrix conv;
    WL_TRY(wl_bind_matrix(f, WL_NAME("ssm_conv1d.weight"), d_conv, n_conv, 1, &conv, err));
    w->conv = malloc((size_t)n_conv * d_conv * sizeof(float));
    if (!w->conv) return wl_fail(err, WL_ERR_OOM, "out of memory copying %s", name);
    for (int64_t ch = 0; ch < n_conv; ch++) wl_matrix_get_row(&conv, ch, w->conv + ch * d_conv);
    return WL_OK;
}

void wl_ssm_free(wl_ssm_weights *w) {
    free(w->attn_norm);
    free(w->conv);
    free(w->conv_b);
    free(w->dt_b);
    free(w->a);
    free(w->d);
    free(w->norm);
}

/* ---- state: per SSM layer, the convolution window and the scan's S ---- */

static int64_t conv_state_floats(const wl_hparams *hp) { return (hp->ssm.d_conv - 1) * conv_dim(hp); }
static int64_t scan_state_floats(const wl_hparams *hp) { return (int64_t)hp->ssm.d_inner * hp->ssm.d_state; }

static int has_ssm(const wl_hparams *hp) {
    for (int il = 0; il < hp->n_layer; il++) {
        if (wl_mixer_has_ssm(hp->layer_mixer[il])) return 1;
    }
    return 0;
}

double wl_ssm_state_bytes(const wl_hparams *hp) {
    int n = 0;
    for (int il = 0; il < hp->n_layer; il++) n += wl_mixer_has_ssm(hp->layer_mixer[il]);
    return (double)n * (double)(conv_state_floats(hp) + scan_state_floats(hp)) * sizeof(float);
}

wl_status wl_ssm_state_init(wl_context *c, wl_error *err) {
    const wl_hparams *hp = &c->model->hp;
    if (!has_ssm(hp)) return WL_OK;
    c->ssm_conv = calloc((size_t)hp->n_layer, sizeof *c->ssm_conv);
    c->ssm_state = calloc((size_t)hp->n_layer, sizeof *c->ssm_state);
    if (!c->ssm_conv || !c->ssm_state) return wl_fail(err, WL_ERR_OOM, "out of memory for the SSM state");
    for (int il = 0; il < hp->n_layer; il++) {
        if (!wl_mixer_has_ssm(hp->layer_mixer[il])) continue;
        /* zeroed: a state is read only after position 0 has reset it, but a
         * truncate to 0 leaves no stale values for a dump either way */
        /* + 1: a one-tap convolution keeps no rows, and calloc(0) may say NULL */
        c->ssm_conv[il] = calloc((size_t)conv_state_floats(hp) + 1, sizeof(float));
        c->ssm_state[il] = calloc((size_t)scan_state_floats(hp), sizeof(float));
        if (!c->ssm_conv[il] || !c->ssm_state[il]) {
            return wl_fail(err, WL_ERR_OOM, "cannot allocate %.1f MiB of SSM state",
                           wl_ssm_state_bytes(hp) / 1048576.0);
        }
    }
    return WL_OK;
}

void wl_ssm_state_free(wl_context *c) {
    const int n_layer = c->model->hp.n_layer;
    if (c->ssm_conv) {
        for (int il = 0; il < n_layer; il++) free(c->ssm_conv[il]);
    }
    if (c->ssm_state) {
        for (int il = 0; il < n_layer; il++) free(c->ssm_state[il]);
    }
    free(c->ssm_conv);
    free(c->ssm_state);
    c->ssm_conv = NULL;
    c->ssm_state = NULL;
}

int wl_ssm_rewind(const wl_context *c, int pos) {
    if (!c->ssm_state || pos >= c->pos) return pos;
    return 0;
}

/* ---- forward ---- */

typedef struct {
    wl_context *c;
    int il, n;
} ssm_task;

/* Channels [ch0, ch1) of every row: the window (state, then this row's
 * xBC) dotted with the taps in ggml_ssm_conv's order (oldest first, f32
 * sum), + bias, SiLU, written over xBC; the window slides by one. */
static void conv_worker(void *arg, int ith, int nth) {
    const ssm_task *task = arg;
    wl_context *c = task->c;
    const wl_hparams *hp = &c->model->hp;
    const wl_ssm_weights *w = &c->model->layers[task->il].ssm;
    const int64_t n_conv = conv_dim(hp), per = (n_conv + nth - 1) / nth;
    const int64_t ch0 = per * ith, ch1 = ch0 + per < n_conv ? ch0 + per : n_conv;
    const int k_last = hp->ssm.d_conv - 1;
    for (int t = 0; t < task->n; t++) {
        float *state = c->row_seq[t]->ssm_conv[task->il];
        float *xbc = c->ssm_proj + (int64_t)t * proj_dim(hp) + hp->ssm.d_inner;
        for (int64_t ch = ch0; ch < ch1; ch++) {
            float *win = state + ch * k_last; /* the last d_conv - 1 inputs, oldest first */
            const float *taps = w->conv + ch * hp->ssm.d_conv;
            if (c->row_pos[t] == 0) memset(win, 0, (size_t)k_last * sizeof(float));
            const float in = xbc[ch];
            float sum = 0.0f;
            for (int k = 0; k < k_last; k++) sum += win[k] * taps[k];
            sum += in * taps[k_last];
            if (k_last > 0) {
                memmove(win, win + 1, (size_t)(k_last - 1) * sizeof(float));
                win[k_last - 1] = in;
            }
            if (w->conv_b) sum += w->conv_b[ch];
            xbc[ch] = wl_silu(sum);
        }
    }
}

/* softplus as ggml computes it (linear above 20, where exp would overflow soon) */
static float softplus(float x) { return x > 20.0f ? x : logf(1.0f + expf(x)); }

/* ---- the scan's inner step: one row of a head's state ---- */

float wl_ssm_state_row_ref(float *s, const float *b, const float *c, float a, float x_dt, int n) {
    float sum = 0.0f;
    for (int k = 0; k < n; k++) {
        s[k] = s[k] * a + b[k] * x_dt;
        sum += s[k] * c[k];
    }
    return sum;
}

float wl_ssm_state_row(float *s, const float *b, const float *c, float a, float x_dt, int n) {
#ifdef __wasm_simd128__
    /* the same update per value (mul, mul, add: no fused rounding); the dot
     * sums in four lanes, as ggml's own SIMD scan does in its lanes */
    const v128_t va = wasm_f32x4_splat(a), vx = wasm_f32x4_splat(x_dt);
    v128_t acc = wasm_f32x4_splat(0.0f);
    int k = 0;
    for (; k + 4 <= n; k += 4) {
        const v128_t sk = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(s + k), va),
                                         wasm_f32x4_mul(wasm_v128_load(b + k), vx));
        wasm_v128_store(s + k, sk);
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(sk, wasm_v128_load(c + k)));
    }
    const float lanes = (wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1)) +
                        (wasm_f32x4_extract_lane(acc, 2) + wasm_f32x4_extract_lane(acc, 3));
    return lanes + wl_ssm_state_row_ref(s + k, b + k, c + k, a, x_dt, n - k);
#else
    return wl_ssm_state_row_ref(s, b, c, a, x_dt, n);
#endif
}

/* One head of one row: S = a S + dt' x B^T, y = S C + D x, y *= silu(z). */
static void scan_head(const wl_hparams *hp, const wl_ssm_weights *w, int h, const float *row, float *s,
                      float *y) {
    const int hd = hp->ssm.d_inner / hp->ssm.n_head, ds = hp->ssm.d_state;
    const int g = h / (hp->ssm.n_head / hp->ssm.n_group);
    const float *z = row + (int64_t)h * hd;
    const float *xbc = row + hp->ssm.d_inner;
    const float *x = xbc + (int64_t)h * hd;
    const float *B = xbc + hp->ssm.d_inner + (int64_t)g * ds;
    const float *C = xbc + hp->ssm.d_inner + (int64_t)hp->ssm.n_group * ds + (int64_t)g * ds;
    const float dt = softplus(xbc[conv_dim(hp) + h] + w->dt_b[h]);
    const float a = expf(dt * w->a[h]);
    for (int i = 0; i < hd; i++) {
        const float sum = wl_ssm_state_row(s + (int64_t)i * ds, B, C, a, x[i] * dt, ds);
        const float yi = sum + x[i] * w->d[h];
        y[(int64_t)h * hd + i] = wl_silu(z[i]) * yi;
    }
}

/* Heads [h0, h1) of every row, in row order (a row continues its sequence's S). */
static void scan_worker(void *arg, int ith, int nth) {
    const ssm_task *task = arg;
    wl_context *c = task->c;
    const wl_hparams *hp = &c->model->hp;
    const wl_ssm_weights *w = &c->model->layers[task->il].ssm;
    const int n_head = hp->ssm.n_head, per = (n_head + nth - 1) / nth;
    const int h0 = per * ith, h1 = h0 + per < n_head ? h0 + per : n_head;
    const int64_t head_state = (int64_t)(hp->ssm.d_inner / n_head) * hp->ssm.d_state;
    for (int t = 0; t < task->n; t++) {
        float *s = c->row_seq[t]->ssm_state[task->il];
        const float *row = c->ssm_proj + (int64_t)t * proj_dim(hp);
        float *y = c->ssm_y + (int64_t)t * hp->ssm.d_inner;
        if (c->row_pos[t] == 0 && h1 > h0) {
            memset(s + h0 * head_state, 0, (size_t)((h1 - h0) * head_state) * sizeof(float));
        }
        for (int h = h0; h < h1; h++) scan_head(hp, w, h, row, s + h * head_state, y);
    }
}

void wl_ssm_mix(wl_context *c, int il, int n) {
    const wl_hparams *hp = &c->model->hp;
    const wl_ssm_weights *w = &c->model->layers[il].ssm;
    const int d_inner = hp->ssm.d_inner, group = d_inner / hp->ssm.n_group;
    wl_project(c, &w->in_proj, c->xn, n, c->ssm_proj);
    ssm_task task = { c, il, n };
    wl_pool_run(c->pool, conv_worker, &task);
    wl_pool_run(c->pool, scan_worker, &task);
    if (w->norm) {
        for (int t = 0; t < n; t++) {
            for (int g = 0; g < hp->ssm.n_group; g++) {
                float *y = c->ssm_y + (int64_t)t * d_inner + (int64_t)g * group;
                wl_rmsnorm(y, y, w->norm + (int64_t)g * group, group, hp->norm_eps);
            }
        }
    }
    wl_project(c, &w->out_proj, c->ssm_y, n, c->proj);
}

void wl_ssm_forward(wl_context *c, int il, int n) {
    wl_block_input(c, c->model->layers[il].ssm.attn_norm, NULL, n);
    wl_ssm_mix(c, il, n);
    wl_block_output(c, NULL, NULL, NULL, n);
}
