/* The x4, x16 and x96 layouts (quant.h): four rows' blocks side by side,
 * sixteen Q4_0 / Q4_K rows' nibbles stacked, or three Q6_K rows' values
 * per 16-bit lane, written in place once per matrix at load time. Why in place: the weights are the largest thing in
 * memory and a second copy would break the memory budget; a group block is
 * as long as the plain blocks it replaces. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "quant.h"
#include "repack.h"

static size_t plain_block_bytes(wl_type t) {
    const wl_type_traits *tt = wl_type_get((uint32_t)t);
    return tt ? tt->type_size : 0;
}

/* Where a plain block keeps its payload (after d, Q4_1's and Q5_1's m, and
 * Q5_0's and Q5_1's qh), and its qh. */
static size_t plain_payload_offset(wl_type t) {
    switch (t) {
    case WL_TYPE_Q4_1: return offsetof(wl_block_q4_1, qs);
    case WL_TYPE_Q5_0: return offsetof(wl_block_q5_0, qs);
    case WL_TYPE_Q5_1: return offsetof(wl_block_q5_1, qs);
    default: return offsetof(wl_block_q4_0, qs); /* Q4_0, Q8_0, IQ4_NL: right after d */
    }
}

static size_t plain_qh_offset(wl_type t) {
    return t == WL_TYPE_Q5_1 ? offsetof(wl_block_q5_1, qh) : offsetof(wl_block_q5_0, qh);
}

static size_t payload_bytes(wl_type t) {
    return t == WL_TYPE_Q8_0 ? WL_QK : WL_QK / 2;
}

/* Does this build have a kernel for t in that layout (WL_LAYOUT_X*)? */
static int has_kernel(int layout, wl_type t) {
#ifdef WL_HAVE_TILES
    switch (layout) {
    case WL_LAYOUT_X96: return wl_tile_kernel_x96(t) != NULL;
    case WL_LAYOUT_X16: return wl_tile_kernel_x16(t) != NULL;
    default: return wl_tile_kernel_x4(t) != NULL;
    }
#else
    (void)layout, (void)t;
    return 0; /* no kernel reads the layout in this build: leave rows as they are */
#endif
}

/* Every block of these formats starts with its f16 scale d (and Q4_1's
 * and Q5_1's min m right after it). */
static int scales_finite(const wl_matrix *m, int64_t n_blocks, size_t bb) {
    const uint8_t *p = m->data;
    const int halves = wl_x4_has_min(m->type) ? 2 : 1;
    for (int64_t i = 0; i < n_blocks; i++) {
        for (int k = 0; k < halves; k++) {
            uint16_t h;
            memcpy(&h, p + (size_t)i * bb + 2 * k, sizeof h);
            if ((h & 0x7c00) == 0x7c00) return 0;
        }
    }
    return 1;
}

/* The 4 bits of n as the low bits of 4 bytes (byte k = bit k). */
static inline uint32_t spread_nibble(uint32_t n) {
    return (n & 1) | ((n & 2) << 7) | ((n & 4) << 14) | ((n & 8) << 21);
}

/* ORs a row's Q5_0 fifth bits into the bit plane h: bit e of qh becomes
 * bit v0 + e / 16 of byte e % 16. A nibble of qh at a time, since this
 * runs for every block of every Q5_0 matrix at load. */
static void or_bit_plane(uint8_t h[16], uint32_t qh, int v0) {
    for (int half = 0; half < 2; half++) {
        for (int q = 0; q < 4; q++) {
            uint32_t word;
            memcpy(&word, h + 4 * q, sizeof word);
            word |= spread_nibble((qh >> (16 * half + 4 * q)) & 15) << (v0 + half);
            memcpy(h + 4 * q, &word, sizeof word);
        }
    }
}

/* Four plain rows (copied to tmp) into one group, block by block. */
static void pack_group(wl_type t, uint8_t *group, const uint8_t *tmp, size_t row_size, int nb) {
    const size_t bb = plain_block_bytes(t), src_off = plain_payload_offset(t), len = payload_bytes(t);
    if (wl_x4_whole_blocks(t)) {
        for (int b = 0; b < nb; b++) {
            for (int r = 0; r < WL_X4_ROWS; r++)
                memcpy(group + ((size_t)b * WL_X4_ROWS + r) * bb, tmp + (size_t)r * row_size + (size_t)b * bb, bb);
        }
        return;
    }
    for (int b = 0; b < nb; b++) {
        uint8_t *dst = group + (size_t)b * WL_X4_ROWS * bb;
        uint8_t *plane = dst + wl_x4_bit_plane_offset(t);
        if (wl_x4_has_bit_plane(t)) memset(plane, 0, 16);
        for (int r = 0; r < WL_X4_ROWS; r++) {
            const uint8_t *src = tmp + (size_t)r * row_size + (size_t)b * bb;
            memcpy(dst + 2 * r, src, 2);
            if (wl_x4_has_min(t)) memcpy(dst + 8 + 2 * r, src + 2, 2);
            memcpy(dst + wl_x4_payload_offset(t, r), src + src_off, len);
            if (!wl_x4_has_bit_plane(t)) continue;
            uint32_t qh;
            memcpy(&qh, src + plain_qh_offset(t), sizeof qh);
            or_bit_plane(plane, qh, 2 * r);
        }
    }
}

static int x16_get(const uint8_t *nb, int r, int j) {
    return ((nb[wl_x16_nibble_byte(r, j)] >> wl_x16_nibble_shift(r)) & 15) ^ WL_X16_TOP_XOR(r);
}

/* Row r's block b of an x16 Q4_0 group back as a plain block. */
static void x16_q4_0_block(const uint8_t *group, int b, int r, wl_block_q4_0 *out) {
    const uint8_t *src = group + (size_t)b * WL_X16_ROWS * sizeof(wl_block_q4_0);
    memcpy(&out->d, src + 2 * r, 2);
    memset(out->qs, 0, sizeof out->qs);
    for (int j = 0; j < WL_QK; j++) {
        const int q = x16_get(src + WL_X16_SCALE_BYTES, r, j);
        out->qs[j % 16] |= (uint8_t)(j < 16 ? q : q << 4);
    }
}

/* The same for Q4_K's super-block b. */
static void x16_q4_K_block(const uint8_t *group, int b, int r, wl_block_q4_K *out) {
    const uint8_t *src = group + (size_t)b * WL_X16_ROWS * sizeof(wl_block_q4_K);
    int sc[8], m[8];
    memcpy(&out->d, src + 2 * r, 2);
    memcpy(&out->dmin, src + WL_X16_SCALE_BYTES + 2 * r, 2);
    for (int j = 0; j < 8; j++) {
        const uint8_t lo = src[WL_X16_K_SCALES + 16 * j + r], hi = src[WL_X16_K_HIGH_BITS + 16 * (j / 2) + r];
        const int top = j % 2 ? hi & 15 : hi >> 4;
        sc[j] = (lo & 15) | (top & 3) << 4;
        m[j] = (lo >> 4) | (top >> 2) << 4;
    }
    wl_q4_K_pack_scales(sc, m, out->scales);
    memset(out->qs, 0, sizeof out->qs);
    for (int e = 0; e < WL_QK_K; e++) {
        const int q = x16_get(src + WL_X16_K_NIBBLES + (size_t)(e / WL_QK) * WL_X16_NIBBLE_BLOCK_BYTES, r, e % WL_QK);
        out->qs[32 * (e / 64) + e % 32] |= (uint8_t)(e % 64 < 32 ? q : q << 4);
    }
}

/* A nibble block's 16 vectors from the 16 rows' 32 values q[r * stride + j]
 * (quant.h), a whole 16-bit lane at a time: this runs for every block of
 * every Q4_0 and Q4_K matrix at load, and a read-modify-write per nibble
 * ran at a quarter of the speed. */
#ifdef __wasm_relaxed_simd__
/* The relaxed build's nibble block (quant.h), a whole byte at a time. */
static void x16_lanes(uint8_t *nb, const uint8_t *q, size_t stride) {
    for (int j = 0; j < WL_QK; j++) {
        for (int r = 0; r < WL_X16_ROWS; r += 8) {
            for (int k = 0; k < 4; k++)
                nb[wl_x16_nibble_byte(r + k, j)] =
                    (uint8_t)(q[(size_t)(r + k) * stride + j] | q[(size_t)(r + 4 + k) * stride + j] << 4);
        }
    }
}
#else
static void x16_lanes(uint8_t *nb, const uint8_t *q, size_t stride) {
    for (int j = 0; j < WL_QK; j++) {
        for (int k = 0; k < 4; k++) {
            const uint16_t lane = (uint16_t)(q[(size_t)k * stride + j] | q[(size_t)(4 + k) * stride + j] << 4 |
                                             q[(size_t)(8 + k) * stride + j] << 8 |
                                             (q[(size_t)(12 + k) * stride + j] ^ 8) << 12);
            memcpy(nb + wl_x16_lane_offset(k, j / 2, j % 2), &lane, sizeof lane);
        }
    }
}
#endif

/* Sixteen plain rows (copied to tmp) into one x16 group (quant.h); q is
 * scratch for one block's or super-block's values of every row. */
static void pack_group_x16(wl_type t, uint8_t *group, const uint8_t *tmp, size_t row_size, int nb, uint8_t *q) {
    const size_t bb = plain_block_bytes(t);
    const int per_block = t == WL_TYPE_Q4_0 ? WL_QK : WL_QK_K;
    memset(group, 0, (size_t)WL_X16_ROWS * row_size);
    for (int b = 0; b < nb; b++) {
        uint8_t *dst = group + (size_t)b * WL_X16_ROWS * bb;
        for (int r = 0; r < WL_X16_ROWS; r++) {
            const uint8_t *src = tmp + (size_t)r * row_size + (size_t)b * bb;
            uint8_t *qr = q + (size_t)r * per_block;
            if (t == WL_TYPE_Q4_0) {
                const wl_block_q4_0 *blk = (const wl_block_q4_0 *)src;
                memcpy(dst + 2 * r, &blk->d, 2);
                for (int j = 0; j < WL_QK / 2; j++) qr[j] = blk->qs[j] & 15, qr[j + 16] = blk->qs[j] >> 4;
                continue;
            }
            const wl_block_q4_K *blk = (const wl_block_q4_K *)src;
            int sc[8], m[8];
            memcpy(dst + 2 * r, &blk->d, 2);
            memcpy(dst + WL_X16_SCALE_BYTES + 2 * r, &blk->dmin, 2);
            wl_q4_K_unpack_scales(blk->scales, sc, m);
            for (int j = 0; j < 8; j++) {
                dst[WL_X16_K_SCALES + 16 * j + r] = (uint8_t)((sc[j] & 15) | (m[j] & 15) << 4);
                const int top = (sc[j] >> 4) | (m[j] >> 4) << 2;
                dst[WL_X16_K_HIGH_BITS + 16 * (j / 2) + r] |= (uint8_t)(j % 2 ? top : top << 4);
            }
            /* wl_q4_K_nibble's order, a byte at a time */
            for (int c = 0; c < 4; c++) {
                for (int l = 0; l < 32; l++) {
                    const uint8_t byte = blk->qs[32 * c + l];
                    qr[64 * c + l] = byte & 15;
                    qr[64 * c + 32 + l] = byte >> 4;
                }
            }
        }
        if (t == WL_TYPE_Q4_0) {
            x16_lanes(dst + WL_X16_SCALE_BYTES, q, WL_QK);
            continue;
        }
        for (int j = 0; j < 8; j++)
            x16_lanes(dst + WL_X16_K_NIBBLES + (size_t)j * WL_X16_NIBBLE_BLOCK_BYTES, q + WL_QK * j, WL_QK_K);
    }
}

/* A Q6_K super-block's 256 stored 6-bit q, the fast way round (this runs
 * for every super-block of every Q6_K matrix at load): each (h, l) byte
 * triple of ql, ql + 32 and qh gives four values. */
static void q6_K_unpack_q(const wl_block_q6_K *b, uint8_t q[WL_QK_K]) {
    for (int h = 0; h < 2; h++) {
        for (int l = 0; l < 32; l++) {
            const uint8_t ql0 = b->ql[64 * h + l], ql1 = b->ql[64 * h + 32 + l], qh = b->qh[32 * h + l];
            q[128 * h + l] = (uint8_t)((ql0 & 15) | (qh & 3) << 4);
            q[128 * h + 32 + l] = (uint8_t)((ql1 & 15) | ((qh >> 2) & 3) << 4);
            q[128 * h + 64 + l] = (uint8_t)((ql0 >> 4) | ((qh >> 4) & 3) << 4);
            q[128 * h + 96 + l] = (uint8_t)((ql1 >> 4) | (qh >> 6) << 4);
        }
    }
}

/* The 16-bit lane at p. */
static inline uint16_t lane_get(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void lane_set(uint8_t *p, uint16_t v) {
    memcpy(p, &v, sizeof v);
}

/* Ninety-six plain Q6_K rows (copied to tmp) into one x96 group (quant.h);
 * q is scratch for one super-block's values of every row. */
static void pack_group_x96(uint8_t *group, const uint8_t *tmp, size_t row_size, int nb, uint8_t (*q)[WL_QK_K]) {
    static const int set_row[3] = { 0, 32, 64 }; /* first row of each role */
    for (int b = 0; b < nb; b++) {
        uint8_t *dst = group + (size_t)b * WL_X96_ROWS * sizeof(wl_block_q6_K);
        for (int r = 0; r < WL_X96_ROWS; r++) {
            const wl_block_q6_K *blk = (const wl_block_q6_K *)(tmp + (size_t)r * row_size + (size_t)b * sizeof(wl_block_q6_K));
            uint8_t *set = dst + WL_X96_FIRST_SET + (size_t)wl_x96_set(r) * WL_X96_SET_BYTES;
            memcpy(dst + 2 * r, &blk->d, 2);
            for (int j = 0; j < 16; j++) set[12 * j + 4 * wl_x96_role(r) + r % 4] = (uint8_t)blk->scales[j];
            q6_K_unpack_q(blk, q[r]);
        }
        /* whole lanes, in the order they are stored */
        uint8_t *hi = dst + WL_X96_HI;
        for (int col = 0; col < WL_QK_K; col += 2) {
            for (int k = 0; k < 4; k++) {
                for (int e = 0; e < 2; e++, hi += 2) {
                    int lane = 0;
                    for (int f = 0; f < WL_X96_SETS; f++)
                        lane |= ((q[set_row[2] + 4 * f + k][col + e] >> 4) ^ (f == WL_X96_SETS - 1 ? 2 : 0)) << (2 * f);
                    lane_set(hi, (uint16_t)lane);
                }
            }
        }
        for (int s = 0; s < WL_X96_SETS; s++) {
            uint8_t *tri = dst + WL_X96_FIRST_SET + (size_t)s * WL_X96_SET_BYTES + WL_X96_SET_SCALES;
            for (int col = 0; col < WL_QK_K; col += 2) {
                for (int k = 0; k < 4; k++) {
                    const uint8_t *qa = q[set_row[0] + 4 * s + k], *qb = q[set_row[1] + 4 * s + k], *qc = q[set_row[2] + 4 * s + k];
                    for (int e = 0; e < 2; e++, tri += 2)
                        lane_set(tri, (uint16_t)(qa[col + e] | qb[col + e] << 6 | ((qc[col + e] & 15) ^ 8) << 12));
                }
            }
        }
    }
}

/* Row r's super-block b of an x96 group back as a plain block. */
static void x96_q6_K_block(const uint8_t *group, int b, int r, wl_block_q6_K *out) {
    const uint8_t *src = group + (size_t)b * WL_X96_ROWS * sizeof(wl_block_q6_K);
    const int s = wl_x96_set(r), role = wl_x96_role(r), k = r % 4;
    const uint8_t *set = src + WL_X96_FIRST_SET + (size_t)s * WL_X96_SET_BYTES;
    memcpy(&out->d, src + 2 * r, 2);
    for (int j = 0; j < 16; j++) out->scales[j] = (int8_t)set[12 * j + 4 * role + k];
    memset(out->ql, 0, sizeof out->ql);
    memset(out->qh, 0, sizeof out->qh);
    for (int col = 0; col < WL_QK_K; col++) {
        const size_t at = wl_x96_lane_offset(col, k);
        const int lane = lane_get(set + WL_X96_SET_SCALES + at);
        int q = role == 0 ? lane & 63 : role == 1 ? (lane >> 6) & 63 : ((lane >> 12) & 15) ^ 8;
        if (role == 2) q |= (((lane_get(src + WL_X96_HI + at) >> (2 * s)) & 3) ^ (s == WL_X96_SETS - 1 ? 2 : 0)) << 4;
        wl_q6_K_put(out, col, q);
    }
}

/* The layout m gets: the widest group its type has kernels for and its
 * rows fill at least once. */
static int layout_for(const wl_matrix *m) {
    if (has_kernel(WL_LAYOUT_X96, m->type) && m->n_rows >= WL_X96_ROWS) return WL_LAYOUT_X96;
    if (has_kernel(WL_LAYOUT_X16, m->type) && m->n_rows >= WL_X16_ROWS) return WL_LAYOUT_X16;
    return WL_LAYOUT_X4;
}

int64_t wl_layout_group_rows(int layout) {
    switch (layout) {
    case WL_LAYOUT_X96: return WL_X96_ROWS;
    case WL_LAYOUT_X16: return WL_X16_ROWS;
    default: return WL_X4_ROWS;
    }
}

int wl_matrix_repack(wl_matrix *m) {
    const wl_type t = m->type;
    if (m->layout != WL_LAYOUT_ROWS || !m->data || !has_kernel(WL_LAYOUT_X4, t)) return 0;
    const size_t row_size = wl_row_size(t, m->n_cols), bb = plain_block_bytes(t);
    if (row_size == 0 || m->row_stride != row_size || m->n_rows < WL_X4_ROWS) return 0;
    const int nb = (int)(m->n_cols / wl_type_get((uint32_t)t)->block_size);
    const int layout = layout_for(m);
    const int rows = (int)wl_layout_group_rows(layout);
    const int64_t groups = m->n_rows / rows;
    /* the K-quant kernels convert their scales for any f16 value */
    if (!wl_x4_whole_blocks(t) && !scales_finite(m, groups * rows * nb, bb)) return 0;
    /* the rows of one group, and one (super-)block's values of each */
    const size_t q_bytes = layout == WL_LAYOUT_X4 ? 0 : (size_t)rows * WL_QK_K;
    uint8_t *tmp = malloc((size_t)rows * row_size + q_bytes);
    if (!tmp) return 0; /* the plain layout still runs */
    uint8_t *data = (uint8_t *)m->data; /* the file's bytes, owned by the wl_file and writable */
    for (int64_t g = 0; g < groups; g++) {
        uint8_t *group = data + (size_t)g * rows * row_size;
        memcpy(tmp, group, (size_t)rows * row_size);
        uint8_t *q = tmp + (size_t)rows * row_size;
        if (layout == WL_LAYOUT_X96) pack_group_x96(group, tmp, row_size, nb, (uint8_t(*)[WL_QK_K])q);
        else if (layout == WL_LAYOUT_X16) pack_group_x16(t, group, tmp, row_size, nb, q);
        else pack_group(t, group, tmp, row_size, nb);
    }
    free(tmp);
    m->layout = layout;
    return 1;
}

void wl_x4_get_row(const wl_matrix *m, int64_t row, float *dst) {
    const wl_type t = m->type;
    const wl_type_traits *tt = wl_type_get((uint32_t)t);
    const size_t bb = plain_block_bytes(t), len = payload_bytes(t);
    const int nb = (int)(m->n_cols / tt->block_size), r = (int)(row % WL_X4_ROWS);
    const uint8_t *group = (const uint8_t *)m->data + (size_t)(row - r) * m->row_stride;
    uint8_t blk[sizeof(wl_block_q8_0)];
    if (wl_x4_whole_blocks(t)) {
        for (int b = 0; b < nb; b++)
            tt->to_float(group + ((size_t)b * WL_X4_ROWS + r) * bb, dst + (size_t)b * tt->block_size, tt->block_size);
        return;
    }
    for (int b = 0; b < nb; b++) {
        const uint8_t *src = group + (size_t)b * WL_X4_ROWS * bb;
        memcpy(blk, src + 2 * r, 2);
        if (wl_x4_has_min(t)) memcpy(blk + 2, src + 8 + 2 * r, 2);
        memcpy(blk + plain_payload_offset(t), src + wl_x4_payload_offset(t, r), len);
        if (wl_x4_has_bit_plane(t)) {
            const uint8_t *plane = src + wl_x4_bit_plane_offset(t);
            uint32_t qh = 0;
            for (int e = 0; e < WL_QK; e++) qh |= (uint32_t)((plane[e % 16] >> (2 * r + e / 16)) & 1) << e;
            memcpy(blk + plain_qh_offset(t), &qh, sizeof qh);
        }
        tt->to_float(blk, dst + (size_t)b * WL_QK, WL_QK);
    }
}

void wl_x16_get_row(const wl_matrix *m, int64_t row, float *dst) {
    const wl_type_traits *tt = wl_type_get((uint32_t)m->type);
    const int nb = (int)(m->n_cols / tt->block_size), r = (int)(row % WL_X16_ROWS);
    const uint8_t *group = (const uint8_t *)m->data + (size_t)(row - r) * m->row_stride;
    for (int b = 0; b < nb; b++) {
        float *out = dst + (size_t)b * tt->block_size;
        if (m->type == WL_TYPE_Q4_0) {
            wl_block_q4_0 blk;
            x16_q4_0_block(group, b, r, &blk);
            q4_0_to_float(&blk, out, WL_QK);
        } else {
            wl_block_q4_K blk;
            x16_q4_K_block(group, b, r, &blk);
            q4_K_to_float(&blk, out, WL_QK_K);
        }
    }
}

void wl_x96_get_row(const wl_matrix *m, int64_t row, float *dst) {
    const int nb = (int)(m->n_cols / WL_QK_K), r = (int)(row % WL_X96_ROWS);
    const uint8_t *group = (const uint8_t *)m->data + (size_t)(row - r) * m->row_stride;
    for (int b = 0; b < nb; b++) {
        wl_block_q6_K blk;
        x96_q6_K_block(group, b, r, &blk);
        q6_K_to_float(&blk, dst + (size_t)b * WL_QK_K, WL_QK_K);
    }
}
