/*
 * winograd_tmpl.h - the input and output transforms of the Winograd
 * F(4x4, 3x3) convolution (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016; interpolation points 0, +-1, +-2,
 * infinity), one vector of SG_VL horizontally adjacent tiles at a time.
 * Included by kernels/sgemm_tmpl.h, so it is compiled once per ISA with
 * that ISA's vector type sg_vf. The driver (blocking, weight transform,
 * GEMMs, threads) is in kernels/conv_fast.c; layouts in sgemm.h.
 *
 *   V = B^T d B   (d: 6x6 input patch)      B^T = | 4  0 -5  0  1  0 |
 *   Y = A^T M A   (M: 6x6 products)               | 0 -4 -4  1  1  0 |
 *                                                 | 0  4 -4 -1  1  0 |
 *   A^T = | 1  1  1  1  1  0 |                    | 0 -2 -1  2  1  0 |
 *         | 0  1 -1  2 -2  0 |                    | 0  2 -1 -2  1  0 |
 *         | 0  1  1  4  4  0 |                    | 0  4  0 -5  0  1 |
 *         | 0  1 -1  8 -8  1 |
 *
 * Tile (ty, tx) reads input rows 4 ty - pad_top + [0, 6) and columns
 * 4 tx - pad_left + [0, 6). The input rows of a tile row are first split
 * into their 4 phases (Q[r][ph][m] = row r at column 4 m + ph, zero
 * outside the image), so the 6 columns of SG_VL tiles are 6 contiguous
 * vector loads (columns 4 and 5 are phases 0 and 1 of the next tile).
 */

/* t = B^T d for one 6-vector of tiles. */
static inline void wg_bt6(const sg_vf d[6], sg_vf t[6]) {
    sg_vf a = d[4] - d[2], b = d[1] - d[3];
    t[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
    t[1] = d[3] + d[4] - 4.0f * (d[1] + d[2]);
    t[2] = d[4] - d[3] + 4.0f * (d[1] - d[2]);
    t[3] = a - 2.0f * b;
    t[4] = a + 2.0f * b;
    t[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

/* o = A^T m for one 6-vector. */
static inline void wg_at6(const sg_vf m[6], sg_vf o[4]) {
    sg_vf s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    o[0] = m[0] + s12 + s34;
    o[1] = d12 + 2.0f * d34;
    o[2] = s12 + 4.0f * s34;
    o[3] = d12 + 8.0f * d34 + m[5];
}

/* Interleaving 4 vectors (pixel j of tile t is o[j][t]) into 4 vectors of
 * consecutive pixels, by two rounds of zips. */
#if SG_VL == 16
#define WG_ZLO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define WG_ZHI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#elif SG_VL == 8
#define WG_ZLO 0, 8, 1, 9, 2, 10, 3, 11
#define WG_ZHI 4, 12, 5, 13, 6, 14, 7, 15
#else
#define WG_ZLO 0, 4, 1, 5
#define WG_ZHI 2, 6, 3, 7
#endif
#if defined(__clang__)
#define WG_ZIPLO(a, b) __builtin_shufflevector(a, b, WG_ZLO)
#define WG_ZIPHI(a, b) __builtin_shufflevector(a, b, WG_ZHI)
#else
#define WG_ZIPLO(a, b) __builtin_shuffle(a, b, (sg_vi){WG_ZLO})
#define WG_ZIPHI(a, b) __builtin_shuffle(a, b, (sg_vi){WG_ZHI})
#endif

static inline void wg_interleave4(const sg_vf o[4], sg_vf r[4]) {
    sg_vf e0 = WG_ZIPLO(o[0], o[2]), e1 = WG_ZIPHI(o[0], o[2]);
    sg_vf f0 = WG_ZIPLO(o[1], o[3]), f1 = WG_ZIPHI(o[1], o[3]);
    r[0] = WG_ZIPLO(e0, f0);
    r[1] = WG_ZIPHI(e0, f0);
    r[2] = WG_ZIPLO(e1, f1);
    r[3] = WG_ZIPHI(e1, f1);
}

#if SG_VL == 16
#define WG_ODD_IDX 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#elif SG_VL == 8
#define WG_ODD_IDX 1, 3, 5, 7, 9, 11, 13, 15
#else
#define WG_ODD_IDX 1, 3, 5, 7
#endif
#if defined(__clang__)
#define SG_ODD(a, b) __builtin_shufflevector(a, b, WG_ODD_IDX)
#else
#define SG_ODD(a, b) __builtin_shuffle(a, b, (sg_vi){WG_ODD_IDX})
#endif

/* The 4 phases of input row `row` (NULL: outside the image) for tiles
 * m in [m0, m1): q[ph * ldq + m] = row[4 m + ph - pl], 0 outside [0, iw). */
static void wg_phase_row(const float *row, int64_t iw, int64_t pl, int64_t m0, int64_t m1, float *restrict q,
                         int64_t ldq) {
    float *q0 = q, *q1 = q + ldq, *q2 = q + 2 * ldq, *q3 = q + 3 * ldq;
    if (!row) {
        for (int ph = 0; ph < 4; ph++) memset(q + ph * ldq + m0, 0, (size_t)(m1 - m0) * sizeof(float));
        return;
    }
    /* interior: 0 <= 4 m - pl and 4 m + 3 - pl < iw */
    int64_t a = (pl + 3) / 4, b = (iw + pl - 3 + 3) / 4; /* b: first m with 4 m + 3 - pl >= iw */
    if (a < m0) a = m0;
    if (b > m1) b = m1;
    if (b < a) b = a;
    for (int64_t m = m0; m < a; m++)
        for (int ph = 0; ph < 4; ph++) {
            int64_t ix = 4 * m + ph - pl;
            q[ph * ldq + m] = ix >= 0 && ix < iw ? row[ix] : 0.0f;
        }
    const float *s = row + 4 * a - pl;
    int64_t m = a;
    /* SG_VL tiles at a time: 4 vectors of the row split into its 4 phases by
     * two rounds of even/odd selections */
    for (; m + SG_VL <= b; m += SG_VL, s += 4 * SG_VL) {
        sg_vf v0 = sg_ld(s), v1 = sg_ld(s + SG_VL), v2 = sg_ld(s + 2 * SG_VL), v3 = sg_ld(s + 3 * SG_VL);
        sg_vf e0 = SG_EVEN(v0, v1), o0 = SG_ODD(v0, v1), e1 = SG_EVEN(v2, v3), o1 = SG_ODD(v2, v3);
        sg_st(q0 + m, SG_EVEN(e0, e1));
        sg_st(q2 + m, SG_ODD(e0, e1));
        sg_st(q1 + m, SG_EVEN(o0, o1));
        sg_st(q3 + m, SG_ODD(o0, o1));
    }
    for (; m < b; m++, s += 4) {
        q0[m] = s[0];
        q1[m] = s[1];
        q2[m] = s[2];
        q3[m] = s[3];
    }
    for (int64_t m = b; m < m1; m++)
        for (int ph = 0; ph < 4; ph++) {
            int64_t ix = 4 * m + ph - pl;
            q[ph * ldq + m] = ix >= 0 && ix < iw ? row[ix] : 0.0f;
        }
}

static void SG_FN(nne_f32_wino_in)(const nne_wino_in *w) {
    const nne_conv_desc *p = w->p;
    int64_t IH = p->in[0], IW = p->in[1], pt = p->pb[0], pl = p->pb[1];
    int64_t insp = IH * IW, tw = w->tw, ldq = tw + 18, ldv = w->ldv;
    int64_t ty0 = w->t0 / tw, ty1 = (w->t1 - 1) / tw;
    for (int64_t c = w->c0; c < w->c1; c++) {
        const float *plane = w->x + c * insp;
        for (int64_t ty = ty0; ty <= ty1; ty++) {
            int64_t txa = ty == ty0 ? w->t0 - ty * tw : 0;
            int64_t txb = ty == ty1 ? w->t1 - ty * tw : tw;
            /* phases for tiles [txa, txb + SG_VL): the vector loads of the last group */
            for (int r = 0; r < 6; r++) {
                int64_t iy = 4 * ty - pt + r;
                wg_phase_row(iy >= 0 && iy < IH ? plane + iy * IW : NULL, IW, pl, txa, txb + SG_VL,
                             w->Q + r * 4 * ldq, ldq);
            }
            float *vrow = w->V + c * ldv + (ty * tw - w->t0);
            for (int64_t tx = txa; tx < txb; tx += SG_VL) {
                /* columns stored past txb are overwritten by the next tile row or
                 * land in the rows' slack */
                sg_vf t[6][6];
                for (int r = 0; r < 6; r++) {
                    const float *q = w->Q + r * 4 * ldq + tx;
                    sg_vf d[6] = {sg_ld(q), sg_ld(q + ldq), sg_ld(q + 2 * ldq), sg_ld(q + 3 * ldq), sg_ld(q + 1),
                                  sg_ld(q + ldq + 1)};
                    wg_bt6(d, t[r]);
                }
                for (int k = 0; k < 6; k++) {
                    sg_vf col[6] = {t[0][k], t[1][k], t[2][k], t[3][k], t[4][k], t[5][k]}, o[6];
                    wg_bt6(col, o);
                    for (int i = 0; i < 6; i++) sg_st(vrow + (i * 6 + k) * w->xs + tx, o[i]);
                }
            }
        }
    }
}

static inline __attribute__((always_inline)) void wg_out(const nne_wino_out *w, int act) {
    const nne_conv_desc *p = w->p;
    int64_t OH = p->out[0], OW = p->out[1], outsp = OH * OW, tw = w->tw, ldy = w->ldy;
    int64_t ty0 = w->t0 / tw, ty1 = (w->t1 - 1) / tw;
    const nne_epilogue *ep = w->ep;
    for (int64_t m = w->m0; m < w->m1; m++) {
        float bv = ep && ep->bias ? ep->bias[m] : 0.0f;
        const float *Ym = w->Y + (m - w->m0) * ldy;
        float *ym = w->y + m * outsp;
        const float *rm = ep && ep->residual ? ep->residual + m * ep->ld_res : NULL;
        for (int64_t ty = ty0; ty <= ty1; ty++) {
            int64_t txa = ty == ty0 ? w->t0 - ty * tw : 0;
            int64_t txb = ty == ty1 ? w->t1 - ty * tw : tw;
            const float *yrow = Ym + (ty * tw - w->t0);
            for (int64_t tx = txa; tx < txb; tx += SG_VL) {
                sg_vf s[4][6];
                for (int k = 0; k < 6; k++) {
                    sg_vf mv[6], o[4];
                    for (int r = 0; r < 6; r++) mv[r] = sg_ld(yrow + (r * 6 + k) * w->xs + tx);
                    wg_at6(mv, o);
                    for (int i = 0; i < 4; i++) s[i][k] = o[i];
                }
                int64_t ox0 = 4 * tx, n = 4 * (txb - tx);
                if (n > OW - ox0) n = OW - ox0;
                if (n > 4 * SG_VL) n = 4 * SG_VL;
                for (int i = 0; i < 4; i++) {
                    int64_t oy = 4 * ty + i;
                    if (oy >= OH) break;
                    sg_vf o[4], r[4];
                    wg_at6(s[i], o);
                    wg_interleave4(o, r);
                    float *dst = ym + oy * OW + ox0;
                    const float *res = rm ? rm + oy * OW + ox0 : NULL;
                    if (n == 4 * SG_VL) {
                        for (int v = 0; v < 4; v++) {
                            sg_vf x = r[v] + bv;
                            if (res) x += sg_ld(res + v * SG_VL);
                            if (act != NNE_ACT_NONE) x = sg_act(act, ep->alpha, ep->beta, x);
                            sg_st(dst + v * SG_VL, x);
                        }
                    } else {
                        float tmp[4 * SG_VL];
                        for (int v = 0; v < 4; v++) sg_st(tmp + v * SG_VL, r[v] + bv);
                        if (res)
                            for (int64_t j = 0; j < n; j++) tmp[j] += res[j];
                        if (act != NNE_ACT_NONE)
                            for (int v = 0; v < 4; v++)
                                sg_st(tmp + v * SG_VL, sg_act(act, ep->alpha, ep->beta, sg_ld(tmp + v * SG_VL)));
                        memcpy(dst, tmp, (size_t)n * sizeof(float));
                    }
                }
            }
        }
    }
}

static void SG_FN(nne_f32_wino_out)(const nne_wino_out *w) {
    int act = w->ep ? w->ep->act : NNE_ACT_NONE;
    switch (act) {
    case NNE_ACT_NONE: wg_out(w, NNE_ACT_NONE); break;
    case NNE_ACT_RELU: wg_out(w, NNE_ACT_RELU); break;
    case NNE_ACT_CLIP: wg_out(w, NNE_ACT_CLIP); break;
    default: wg_out(w, act); break;
    }
}

/* The output transform of the transposed products (images with few tiles:
 * the GEMMs run tiles x channels, see conv_fast.c), a vector of SG_VL
 * output channels of one tile at a time; each output pixel's channels are
 * then scattered to their planes. */
static void SG_FN(nne_f32_wino_out_t)(const nne_wino_out *w) {
    const nne_conv_desc *p = w->p;
    int64_t OH = p->out[0], OW = p->out[1], outsp = OH * OW, tw = w->tw, ldy = w->ldy;
    const nne_epilogue *ep = w->ep;
    int act = ep ? ep->act : NNE_ACT_NONE;
    for (int64_t t = w->t0; t < w->t1; t++) {
        int64_t ty = t / tw, tx = t % tw;
        const float *yt = w->Y + (t - w->t0) * ldy;
        for (int64_t m = w->m0; m < w->m1; m += SG_VL) {
            int64_t nl = w->m1 - m < SG_VL ? w->m1 - m : SG_VL;
            float bias[SG_VL] = {0};
            if (ep && ep->bias)
                for (int64_t l = 0; l < nl; l++) bias[l] = ep->bias[m + l];
            sg_vf bv = sg_ld(bias), s[4][6];
            for (int k = 0; k < 6; k++) {
                sg_vf mv[6], o[4];
                for (int r = 0; r < 6; r++) mv[r] = sg_ld(yt + (r * 6 + k) * w->xs + (m - w->m0));
                wg_at6(mv, o);
                for (int i = 0; i < 4; i++) s[i][k] = o[i];
            }
            for (int i = 0; i < 4; i++) {
                int64_t oy = 4 * ty + i;
                if (oy >= OH) break;
                sg_vf o[4];
                wg_at6(s[i], o);
                for (int j = 0; j < 4; j++) {
                    int64_t ox = 4 * tx + j;
                    if (ox >= OW) break;
                    int64_t pix = oy * OW + ox;
                    sg_vf x = o[j] + bv;
                    if (ep && ep->residual) {
                        float r[SG_VL] = {0};
                        for (int64_t l = 0; l < nl; l++) r[l] = ep->residual[(m + l) * ep->ld_res + pix];
                        x += sg_ld(r);
                    }
                    if (act != NNE_ACT_NONE) x = sg_act(act, ep->alpha, ep->beta, x);
                    float v[SG_VL];
                    sg_st(v, x);
                    for (int64_t l = 0; l < nl; l++) w->y[(m + l) * outsp + pix] = v[l];
                }
            }
        }
    }
}
