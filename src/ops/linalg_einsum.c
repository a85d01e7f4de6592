/*
 * linalg_einsum.c - Einsum (opset 12), any equation: explicit or implicit
 * output, ellipsis ("...") with numpy broadcasting, repeated labels within a
 * term (diagonals), labels summed away, any number of operands.
 *
 * Labels: 'a'-'z' are 0-25, 'A'-'Z' 26-51, and the E ellipsis dims 52..52+E-1
 * (right-aligned across operands). For each operand we build a stride per
 * label (repeated labels add their strides, which walks the diagonal; a
 * size-1 axis broadcast against a larger one gets stride 0).
 *
 * Two paths:
 *  - two float operands without diagonals or broadcasting: labels are sorted
 *    into batch (A, B, out), M (A, out), N (B, out), K (A, B) and summed-only
 *    ones; A and B are copied into [batch][M][K] / [batch][K][N] order, one
 *    GEMM per batch runs, and the result is copied into the output order.
 *  - everything else: for each output element, an odometer walks the summed
 *    labels and accumulates the product of the operands in double.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"
#include "kernels/ref/gemm.h"

#include <inttypes.h>
#include <string.h>

#define NLET 52
#define MAXL (NLET + NNE_MAX_DIMS)
#define MAXIN 32
#define MAXEQ 512

typedef struct ein {
    int nin;
    int nlab[MAXIN];                    /* axes per operand */
    int lab[MAXIN][NNE_MAX_DIMS];       /* label of each axis */
    int onl;                            /* output rank */
    int olab[MAXL];                     /* output labels */
    int64_t size[MAXL];                 /* label sizes (-1 unused) */
    int used[MAXL];                     /* label used by some operand */
    int in_out[MAXL];                   /* label is an output label */
    int nsum;                           /* summed labels */
    int sumlab[MAXL];
    int64_t str[MAXIN][MAXL];           /* operand strides per label */
    int diag;                           /* some operand repeats a label */
    int bcast;                          /* some size-1 axis is broadcast */
} ein;

static int letter_id(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + (c - 'A');
    return -1;
}

/*
 * Parse one term [s, s+len) for an operand of rank `rank` (rank < 0: output
 * term, ellipsis expands to E dims). Labels go to lab[]. Returns the
 * number of ellipsis dims used by this operand via *edims (-1: no ellipsis).
 */
static nne_status parse_term(nne_op_ctx *ctx, const char *s, int len, int rank, int E, int *lab,
                             int *nlab, int *edims, const char *what) {
    int letters = 0, ell = -1;
    for (int i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (ell >= 0 || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.') {
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "%s term \"%.*s\": a lone '.' or more than one ellipsis",
                                    what, len, s);
            }
            ell = letters;
            i += 2;
        } else if (letter_id(s[i]) >= 0) {
            letters++;
        } else {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s term \"%.*s\": bad character '%c'",
                                what, len, s, s[i]);
        }
    }
    int ed;
    if (rank >= 0) {
        if (ell < 0 ? letters != rank : letters > rank) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "%s term \"%.*s\" has %d labels but the operand has rank %d", what,
                                len, s, letters, rank);
        }
        ed = ell < 0 ? -1 : rank - letters;
    } else {
        ed = ell < 0 ? -1 : E;
    }
    int total = letters + (ed > 0 ? ed : 0);
    if (total > NNE_MAX_DIMS) {
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%s term \"%.*s\" has rank %d > %d", what,
                            len, s, total, NNE_MAX_DIMS);
    }
    int n = 0;
    for (int i = 0; i < len; i++) {
        if (s[i] == '.') {
            int eo = (rank >= 0) ? E - ed : 0; /* right-align: first ellipsis label */
            for (int e = 0; e < ed; e++) lab[n++] = NLET + eo + e;
            i += 2;
        } else {
            lab[n++] = letter_id(s[i]);
        }
    }
    *nlab = n;
    *edims = ed;
    return NNE_OK;
}

static nne_status ein_parse(nne_op_ctx *ctx, ein *e) {
    const char *eq = nne_attr_s(ctx, "equation", NULL);
    if (!eq) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute equation is required");
    char buf[MAXEQ];
    int n = 0;
    for (const char *p = eq; *p; p++) {
        if (*p == ' ') continue;
        if (n >= MAXEQ - 1) {
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "equation longer than %d characters", MAXEQ - 1);
        }
        buf[n++] = *p;
    }
    buf[n] = 0;
    int nin = nne_ctx_num_inputs(ctx);
    if (nin < 1 || nin > MAXIN) {
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%d operands (1..%d supported)", nin, MAXIN);
    }
    memset(e, 0, sizeof *e);
    e->nin = nin;
    for (int l = 0; l < MAXL; l++) e->size[l] = -1;
    const char *arrow = strstr(buf, "->");
    int lhs_len = arrow ? (int)(arrow - buf) : n;
    /* terms */
    int E = 0, edims[MAXIN];
    int starts[MAXIN], lens[MAXIN], nt = 0, st = 0;
    for (int i = 0; i <= lhs_len; i++) {
        if (i == lhs_len || buf[i] == ',') {
            if (nt >= nin) {
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "equation \"%s\" has more terms than the %d inputs", eq, nin);
            }
            starts[nt] = st;
            lens[nt] = i - st;
            nt++;
            st = i + 1;
        }
    }
    if (nt != nin) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "equation \"%s\" has %d terms but %d inputs",
                            eq, nt, nin);
    }
    /* first pass: ellipsis ranks */
    for (int i = 0; i < nin; i++) {
        const nne_tensor *t = nne_ctx_input(ctx, i);
        if (!t) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d is missing", i);
        int nl;
        NNE_TRY(parse_term(ctx, buf + starts[i], lens[i], t->ndim, 0, e->lab[i], &nl, &edims[i],
                           "input"));
        if (edims[i] > E) E = edims[i];
    }
    int count[NLET] = {0};
    for (int i = 0; i < nin; i++) {
        const nne_tensor *t = nne_ctx_input(ctx, i);
        int ed;
        NNE_TRY(parse_term(ctx, buf + starts[i], lens[i], t->ndim, E, e->lab[i], &e->nlab[i], &ed,
                           "input"));
        int seen[MAXL] = {0};
        for (int a = 0; a < e->nlab[i]; a++) {
            int l = e->lab[i][a];
            int64_t d = t->dims[a];
            if (l < NLET) count[l]++;
            if (seen[l]) {
                e->diag = 1;
                if (e->size[l] != d) {
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                        "input %d repeats label '%c' over axes of different sizes",
                                        i, l < 26 ? 'a' + l : 'A' + l - 26);
                }
            }
            seen[l] = 1;
            e->used[l] = 1;
            if (e->size[l] < 0 || e->size[l] == 1) {
                if (e->size[l] == 1 && d != 1) e->bcast = 1;
                e->size[l] = d;
            } else if (d != e->size[l]) {
                if (d != 1) {
                    if (l < NLET) {
                        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                            "label '%c' has size %" PRId64 " in input %d but %" PRId64
                                            " elsewhere",
                                            l < 26 ? 'a' + l : 'A' + l - 26, d, i, e->size[l]);
                    }
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                        "ellipsis dimensions of input %d do not broadcast", i);
                }
                e->bcast = 1;
            }
        }
    }
    /* output */
    if (arrow) {
        int ed;
        const char *rhs = arrow + 2;
        NNE_TRY(parse_term(ctx, rhs, (int)strlen(rhs), -1, E, e->olab, &e->onl, &ed, "output"));
        int seen[MAXL] = {0};
        for (int a = 0; a < e->onl; a++) {
            int l = e->olab[a];
            if (seen[l]) {
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "output repeats label '%c'",
                                    l < 26 ? 'a' + l : 'A' + l - 26);
            }
            seen[l] = 1;
            if (!e->used[l] && l < NLET) {
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "output label '%c' does not appear in any input",
                                    l < 26 ? 'a' + l : 'A' + l - 26);
            }
            if (!e->used[l]) e->size[l] = 1; /* ellipsis dim no operand has */
        }
    } else {
        e->onl = 0;
        for (int k = 0; k < E; k++) {
            e->olab[e->onl++] = NLET + k;
            if (!e->used[NLET + k]) e->size[NLET + k] = 1;
        }
        for (int c = 'A'; c <= 'Z'; c++) {
            if (count[letter_id((char)c)] == 1) e->olab[e->onl++] = letter_id((char)c);
        }
        for (int c = 'a'; c <= 'z'; c++) {
            if (count[letter_id((char)c)] == 1) e->olab[e->onl++] = letter_id((char)c);
        }
        if (e->onl > NNE_MAX_DIMS) {
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output rank %d > %d", e->onl, NNE_MAX_DIMS);
        }
    }
    for (int a = 0; a < e->onl; a++) e->in_out[e->olab[a]] = 1;
    e->nsum = 0;
    for (int l = 0; l < MAXL; l++) {
        if (e->used[l] && !e->in_out[l]) e->sumlab[e->nsum++] = l;
    }
    /* strides */
    for (int i = 0; i < nin; i++) {
        const nne_tensor *t = nne_ctx_input(ctx, i);
        int64_t s = 1;
        for (int a = t->ndim - 1; a >= 0; a--) {
            int l = e->lab[i][a];
            if (t->dims[a] == e->size[l]) e->str[i][l] += s;
            s *= t->dims[a];
        }
    }
    return NNE_OK;
}

/* dst (contiguous, dims in `ord` order) = src viewed through strides sstr[label]. */
static void copy_perm_f32(const float *src, const int64_t *sstr, const int64_t *size, const int *ord,
                          int n, float *dst) {
    if (n == 0) {
        dst[0] = src[0];
        return;
    }
    int64_t idx[MAXL] = {0};
    int64_t inner = size[ord[n - 1]], is = sstr[ord[n - 1]];
    int64_t total = 1;
    for (int a = 0; a < n; a++) total *= size[ord[a]];
    if (total == 0) return;
    int64_t soff = 0;
    for (int64_t base = 0; base < total; base += inner) {
        const float *s = src + soff;
        for (int64_t j = 0; j < inner; j++) dst[base + j] = s[j * is];
        for (int a = n - 2; a >= 0; a--) {
            int l = ord[a];
            idx[a]++;
            soff += sstr[l];
            if (idx[a] < size[l]) break;
            soff -= sstr[l] * idx[a];
            idx[a] = 0;
        }
    }
}

/* Is the 2-operand GEMM path usable? Fills the label classes. */
static int ein_gemm_plan(const ein *e, int *bl, int *nb, int *ml, int *nm, int *nl, int *nn,
                         int *kl, int *nk) {
    if (e->nin != 2 || e->diag || e->bcast) return 0;
    int inA[MAXL] = {0}, inB[MAXL] = {0};
    for (int a = 0; a < e->nlab[0]; a++) inA[e->lab[0][a]] = 1;
    for (int a = 0; a < e->nlab[1]; a++) inB[e->lab[1][a]] = 1;
    *nb = *nm = *nl = *nn = *nk = 0;
    for (int a = 0; a < e->onl; a++) {
        int l = e->olab[a];
        if (inA[l] && inB[l]) bl[(*nb)++] = l;
        else if (inA[l]) ml[(*nm)++] = l;
        else if (inB[l]) nl[(*nn)++] = l;
        else return 0; /* output-only (size-1 ellipsis) label */
    }
    for (int i = 0; i < e->nsum; i++) {
        int l = e->sumlab[i];
        if (inA[l] && inB[l]) kl[(*nk)++] = l;
        else return 0; /* summed in one operand only: generic path */
    }
    return 1;
}

/* Einsum in phases: the equation is parsed (labels, sizes, strides) and the
 * path chosen (one batched float GEMM, or the generic double loop) once per
 * plan. */
typedef struct einsum_state {
    ein e;
    int gemm;
    int bl[MAXL], ml[MAXL], nl[MAXL], kl[MAXL], nb, nm, nn, nk;
    int64_t Bn, M, N, K;
    size_t opa, opb, opc, ogs, oxin, oacc;
} einsum_state;

static nne_status einsum_run(nne_op_ctx *ctx) {
    static const nne_dtype ok[] = {
        NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
        NNE_DTYPE_INT8, NNE_DTYPE_UINT8, NNE_DTYPE_INT16, NNE_DTYPE_UINT16, NNE_DTYPE_INT32,
        NNE_DTYPE_UINT32, NNE_DTYPE_INT64, NNE_DTYPE_UINT64, NNE_DTYPE_UNDEFINED};
    ein e;
    NNE_TRY(ein_parse(ctx, &e));
    const nne_tensor *X0 = nne_ctx_input(ctx, 0);
    NNE_TRY(nne_la_check_dtype(ctx, "Inputs", X0->dtype, ok));
    for (int i = 1; i < e.nin; i++) {
        if (nne_ctx_input(ctx, i)->dtype != X0->dtype) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d is %s but input 0 is %s", i,
                                nne_dtype_name(nne_ctx_input(ctx, i)->dtype),
                                nne_dtype_name(X0->dtype));
        }
    }
    int64_t odims[NNE_MAX_DIMS];
    for (int a = 0; a < e.onl; a++) odims[a] = e.size[e.olab[a]];
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X0->dtype, e.onl, odims, &Y));
    int64_t ny = nne_tensor_numel(Y);
    (void)ny;
    einsum_state *st_ = nne_ctx_plan_state(ctx);

    int bl[MAXL], ml[MAXL], nl[MAXL], kl[MAXL] = {0}, nb, nm, nn, nk;
    int gemm = X0->dtype == NNE_DTYPE_FLOAT &&
               ein_gemm_plan(&e, bl, &nb, ml, &nm, nl, &nn, kl, &nk);
    if (gemm) {
        int64_t Bn = 1, M = 1, N = 1, K = 1;
        for (int i = 0; i < nb; i++) Bn *= e.size[bl[i]];
        for (int i = 0; i < nm; i++) M *= e.size[ml[i]];
        for (int i = 0; i < nn; i++) N *= e.size[nl[i]];
        for (int i = 0; i < nk; i++) K *= e.size[kl[i]];
        size_t total = 0;
        size_t opa = nne_la_reserve(&total, nne_size_elems(Bn * M * K + 1, sizeof(float)));
        size_t opb = nne_la_reserve(&total, nne_size_elems(Bn * K * N + 1, sizeof(float)));
        size_t opc = nne_la_reserve(&total, nne_size_elems(Bn * M * N + 1, sizeof(float)));
        size_t ogs = nne_la_reserve(&total, nne_gemm_f32_scratch(M, N, K));
        nne_ctx_scratch(ctx, total);
        if (st_) {
            *st_ = (einsum_state){.e = e, .gemm = 1, .nb = nb, .nm = nm, .nn = nn, .nk = nk, .Bn = Bn, .M = M,
                                  .N = N, .K = K, .opa = opa, .opb = opb, .opc = opc, .ogs = ogs};
            memcpy(st_->bl, bl, sizeof bl);
            memcpy(st_->ml, ml, sizeof ml);
            memcpy(st_->nl, nl, sizeof nl);
            memcpy(st_->kl, kl, sizeof kl);
        }
        return NNE_OK;
    }

    /* generic path: operands converted to double */
    int64_t tot = 0;
    for (int i = 0; i < e.nin; i++) tot += nne_tensor_numel(nne_ctx_input(ctx, i));
    size_t total = 0;
    size_t oxin = nne_la_reserve(&total, nne_size_elems(tot + 1, sizeof(double)));
    size_t oacc = nne_la_reserve(&total, nne_size_elems(ny + 1, sizeof(double)));
    nne_ctx_scratch(ctx, total);
    if (st_) *st_ = (einsum_state){.e = e, .oxin = oxin, .oacc = oacc};
    return NNE_OK;
}

static nne_status einsum_kernel(const void *state, const nne_kernel_args *args) {
    const einsum_state *st_ = state;
    const ein *ep = &st_->e; /* large: not copied */
    nne_tensor *Y = args->out[0];
    int64_t ny = nne_tensor_numel(Y);
    char *scr = args->scratch;
    if (st_->gemm) {
        const int *bl = st_->bl, *ml = st_->ml, *nl = st_->nl, *kl = st_->kl;
        int nb = st_->nb, nm = st_->nm, nn = st_->nn, nk = st_->nk;
        int64_t Bn = st_->Bn, M = st_->M, N = st_->N, K = st_->K;
        size_t opa = st_->opa, opb = st_->opb, opc = st_->opc, ogs = st_->ogs;
        if (ny == 0) return NNE_OK;
        float *pa = (float *)(scr + opa), *pb = (float *)(scr + opb), *pc = (float *)(scr + opc);
        void *gs = scr + ogs;
        int ord[MAXL], no = 0;
        /* A -> [batch][M][K] */
        for (int i = 0; i < nb; i++) ord[no++] = bl[i];
        for (int i = 0; i < nm; i++) ord[no++] = ml[i];
        for (int i = 0; i < nk; i++) ord[no++] = kl[i];
        copy_perm_f32(args->in[0]->data, ep->str[0], ep->size, ord, no, pa);
        /* B -> [batch][K][N] */
        no = 0;
        for (int i = 0; i < nb; i++) ord[no++] = bl[i];
        for (int i = 0; i < nk; i++) ord[no++] = kl[i];
        for (int i = 0; i < nn; i++) ord[no++] = nl[i];
        copy_perm_f32(args->in[1]->data, ep->str[1], ep->size, ord, no, pb);
        for (int64_t b = 0; b < Bn; b++) {
            nne_gemm_f32(M, N, K, 1.0f, pa + b * M * K, K, 1, pb + b * K * N, N, 1, 0.0f,
                         pc + b * M * N, N, gs);
        }
        /* C is [batch][M][N]: strides per label, then copy in output order */
        int64_t cstr[MAXL] = {0}, s = 1;
        for (int i = nn - 1; i >= 0; i--) { cstr[nl[i]] = s; s *= ep->size[nl[i]]; }
        for (int i = nm - 1; i >= 0; i--) { cstr[ml[i]] = s; s *= ep->size[ml[i]]; }
        for (int i = nb - 1; i >= 0; i--) { cstr[bl[i]] = s; s *= ep->size[bl[i]]; }
        copy_perm_f32(pc, cstr, ep->size, ep->olab, ep->onl, Y->data);
        return NNE_OK;
    }

    /* generic path: operands converted to double */
    if (ny == 0) return NNE_OK;
    double *xin = (double *)(scr + st_->oxin), *acc = (double *)(scr + st_->oacc);
    const double *xp[MAXIN];
    int64_t off = 0;
    for (int i = 0; i < ep->nin; i++) {
        const nne_tensor *t = args->in[i];
        int64_t n = nne_tensor_numel(t);
        nne_load_f64(t, 0, 1, n, xin + off);
        xp[i] = xin + off;
        off += n;
    }
    int64_t rtotal = 1;
    for (int i = 0; i < ep->nsum; i++) rtotal *= ep->size[ep->sumlab[i]];
    int64_t oidx[MAXL] = {0};
    int64_t base[MAXIN] = {0};
    for (int64_t o = 0; o < ny; o++) {
        double sum = 0.0;
        if (rtotal > 0) {
            int64_t ridx[MAXL] = {0};
            int64_t roff[MAXIN];
            for (int i = 0; i < ep->nin; i++) roff[i] = base[i];
            for (int64_t r = 0; r < rtotal; r++) {
                double p = 1.0;
                for (int i = 0; i < ep->nin; i++) p *= xp[i][roff[i]];
                sum += p;
                for (int a = ep->nsum - 1; a >= 0; a--) {
                    int l = ep->sumlab[a];
                    ridx[a]++;
                    for (int i = 0; i < ep->nin; i++) roff[i] += ep->str[i][l];
                    if (ridx[a] < ep->size[l]) break;
                    for (int i = 0; i < ep->nin; i++) roff[i] -= ep->str[i][l] * ridx[a];
                    ridx[a] = 0;
                }
            }
        }
        acc[o] = sum;
        for (int a = ep->onl - 1; a >= 0; a--) {
            int l = ep->olab[a];
            oidx[a]++;
            for (int i = 0; i < ep->nin; i++) base[i] += ep->str[i][l];
            if (oidx[a] < ep->size[l]) break;
            for (int i = 0; i < ep->nin; i++) base[i] -= ep->str[i][l] * oidx[a];
            oidx[a] = 0;
        }
    }
    nne_store_f64(Y, 0, 1, ny, acc, NNE_CVT_SAT);
    return NNE_OK;
}

NNE_OP_DEFINE(Einsum, "", "Einsum", .infer = einsum_run, .run = einsum_kernel, .state_size = sizeof(einsum_state));
