/*
 * ml_tfidf.c - TfIdfVectorizer (opset 9): n-gram counts of integer
 * sequences against a pool of learned n-grams.
 *   X [C] or [N, C] (int32 / int64; string input is not supported)
 *   Y [W] or [N, W], W = max(ngram_indexes) + 1, float.
 * The pool (pool_int64s) holds level l (n = l + 1) n-grams from
 * ngram_counts[l] up to the next level's start; n-gram g (numbered in pool
 * order) goes to output coordinate ngram_indexes[g] with weight weights[g].
 * For each row, each n in [min_gram_length, max_gram_length] and each skip
 * s in [0, max_skip_count] (only s = 0 for unigrams), the n-gram at start i
 * is X[i], X[i + (s+1)], ..., X[i + (n-1)(s+1)]; every pool match is counted.
 * TF writes counts, IDF writes weight when count > 0, TFIDF count * weight.
 * At run time each level's n-grams are sorted (in scratch) so lookups are
 * binary searches.
 */
#include "ops/tensor_util.h"

#include <string.h>

typedef struct tfidf_sort {
    const int64_t *pool;
    const int64_t *off; /* pool offset of each n-gram */
    int64_t n;          /* n-gram length of the level being sorted */
} tfidf_sort;

/* Carve one 64-byte aligned piece of the node's single scratch block. */
static size_t tfidf_reserve(size_t *total, size_t bytes) {
    size_t o = *total; /* saturating: an overflowing layout fails at the allocation */
    *total = nne_size_add(*total, nne_size_align64(bytes));
    return o;
}

static int cmp_gram(const int64_t *a, const int64_t *b, int64_t n) {
    for (int64_t k = 0; k < n; k++)
        if (a[k] != b[k]) return a[k] < b[k] ? -1 : 1;
    return 0;
}

static int tfidf_cmp(const void *user, int64_t a, int64_t b) {
    const tfidf_sort *s = user;
    return cmp_gram(s->pool + s->off[a], s->pool + s->off[b], s->n);
}

/* TfIdfVectorizer in phases: the pool (attributes, alive as long as the model) is checked once per plan */
typedef struct tfidf_state {
    const int64_t *pool;
    const int64_t *counts;
    const int64_t *nidx;
    const float *weights;
    int64_t np;
    int64_t nlev;
    int64_t mn;
    int64_t mx;
    int64_t skips;
    int mode;
    int64_t total;
    int64_t W;
    int64_t N;
    int64_t C;
    size_t ooff;
    size_t oidx;
    size_t otmp;
    size_t ocnt;
    size_t ocand;
} tfidf_state;

static nne_status tfidfvectorizer_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    char b1[96];
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (nne_attr_has(ctx, "pool_strings"))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "pool_strings (string n-grams) not supported");
    if (x->dtype != NNE_DTYPE_INT32 && x->dtype != NNE_DTYPE_INT64)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "X dtype %s not supported: expected int32 or int64",
                            nne_dtype_name(x->dtype));
    if (x->ndim != 1 && x->ndim != 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X shape %s, expected [C] or [N, C]",
                            nne_dims_str(x->ndim, x->dims, b1, sizeof b1));
    const int64_t *pool = NULL, *counts = NULL, *nidx = NULL;
    const float *weights = NULL;
    int64_t np = nne_attr_ints(ctx, "pool_int64s", &pool);
    int64_t nlev = nne_attr_ints(ctx, "ngram_counts", &counts);
    int64_t ng_attr = nne_attr_ints(ctx, "ngram_indexes", &nidx);
    int64_t nw = nne_attr_floats(ctx, "weights", &weights);
    if (np < 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute pool_int64s (or pool_strings) is required");
    if (nlev < 0 || ng_attr < 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attributes ngram_counts and ngram_indexes are required");
    int64_t mn = nne_attr_i(ctx, "min_gram_length", 0), mx = nne_attr_i(ctx, "max_gram_length", 0);
    int64_t skips = nne_attr_i(ctx, "max_skip_count", -1);
    if (mn < 1 || mx < mn || skips < 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "min_gram_length %lld, max_gram_length %lld, max_skip_count %lld: expected "
                            "1 <= min <= max and skips >= 0", (long long)mn, (long long)mx, (long long)skips);
    const char *mode_s = nne_attr_s(ctx, "mode", "");
    int mode;
    if (strcmp(mode_s, "TF") == 0) mode = 0;
    else if (strcmp(mode_s, "IDF") == 0) mode = 1;
    else if (strcmp(mode_s, "TFIDF") == 0) mode = 2;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "mode \"%s\": expected TF, IDF or TFIDF", mode_s);
    /* level l holds (end - start) / (l + 1) n-grams */
    int64_t total = 0;
    for (int64_t l = 0; l < nlev; l++) {
        int64_t st = counts[l], en = l + 1 < nlev ? counts[l + 1] : np;
        if (st < 0 || en < st || en > np || (en - st) % (l + 1) != 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "ngram_counts[%lld] = %lld: level spans pool [%lld, %lld) of %lld, which "
                                "must be ordered and a multiple of %lld long", (long long)l, (long long)st,
                                (long long)st, (long long)en, (long long)np, (long long)(l + 1));
        total += (en - st) / (l + 1);
    }
    if (nlev > 0 && counts[0] != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "ngram_counts[0] = %lld, expected 0", (long long)counts[0]);
    if (ng_attr != total)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "ngram_indexes has %lld entries, the pool %lld n-grams",
                            (long long)ng_attr, (long long)total);
    if (weights && nw != total)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "weights has %lld entries, the pool %lld n-grams",
                            (long long)nw, (long long)total);
    int64_t W = 0;
    for (int64_t g = 0; g < total; g++) {
        if (nidx[g] < 0 || nidx[g] >= ((int64_t)1 << 40))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "ngram_indexes[%lld] = %lld out of range",
                                (long long)g, (long long)nidx[g]);
        if (nidx[g] + 1 > W) W = nidx[g] + 1;
    }
    int64_t N = x->ndim == 2 ? x->dims[0] : 1, C = x->dims[x->ndim - 1];
    int64_t yd[2] = {N, W};
    nne_tensor *y;
    if (x->ndim == 2) NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_FLOAT, 2, yd, &y));
    else NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_FLOAT, 1, yd + 1, &y));
    int64_t mxl = mx < nlev ? mx : nlev; /* longest n with pool entries */
    size_t tot = 0;
    size_t ooff = tfidf_reserve(&tot, nne_size_elems(total, sizeof(int64_t)));
    size_t oidx = tfidf_reserve(&tot, nne_size_elems(total, sizeof(int64_t)));
    size_t otmp = tfidf_reserve(&tot, nne_size_elems(total, sizeof(int64_t)));
    size_t ocnt = tfidf_reserve(&tot, nne_size_elems(total, sizeof(double)));
    size_t ocand = tfidf_reserve(&tot, nne_size_elems(mxl > 0 ? mxl : 1, sizeof(int64_t)));
    nne_ctx_scratch(ctx, tot);
    tfidf_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->pool = pool;
        st_->counts = counts;
        st_->nidx = nidx;
        st_->weights = weights;
        st_->np = np;
        st_->nlev = nlev;
        st_->mn = mn;
        st_->mx = mx;
        st_->skips = skips;
        st_->mode = mode;
        st_->total = total;
        st_->W = W;
        st_->N = N;
        st_->C = C;
        st_->ooff = ooff;
        st_->oidx = oidx;
        st_->otmp = otmp;
        st_->ocnt = ocnt;
        st_->ocand = ocand;
    }
    return NNE_OK;
}

static nne_status tfidf_kernel(const void *state, const nne_kernel_args *args) {
    const tfidf_state *st_ = state;
    const nne_tensor *x = args->in[0];
    nne_tensor *y = args->out[0];
    const int64_t * pool = st_->pool;
    const int64_t * counts = st_->counts;
    const int64_t * nidx = st_->nidx;
    const float * weights = st_->weights;
    int64_t np = st_->np;
    int64_t nlev = st_->nlev;
    int64_t mn = st_->mn;
    int64_t mx = st_->mx;
    int64_t skips = st_->skips;
    int mode = st_->mode;
    int64_t total = st_->total;
    int64_t W = st_->W;
    int64_t N = st_->N;
    int64_t C = st_->C;
    size_t ooff = st_->ooff;
    size_t oidx = st_->oidx;
    size_t otmp = st_->otmp;
    size_t ocnt = st_->ocnt;
    size_t ocand = st_->ocand;
    char *base = args->scratch;
    int64_t *off = (int64_t *)(base + ooff), *idx = (int64_t *)(base + oidx);
    int64_t *tmp = (int64_t *)(base + otmp), *cand = (int64_t *)(base + ocand);
    double *cnt = (double *)(base + ocnt);

    /* n-gram ids per level in pool order, then sorted by content */
    int64_t g = 0;
    for (int64_t l = 0; l < nlev; l++) {
        int64_t st = counts[l], en = l + 1 < nlev ? counts[l + 1] : np, first = g;
        for (int64_t p = st; p < en; p += l + 1, g++) {
            off[g] = p;
            idx[g] = g;
        }
        tfidf_sort srt = {pool, off, l + 1};
        nne_tu_sort_idx(idx + first, tmp, g - first, tfidf_cmp, &srt);
    }
    size_t xs = nne_dtype_size(x->dtype);
    float *yv = y->data;
    for (int64_t r = 0; r < N; r++) {
        const char *row = (const char *)x->data + (size_t)(r * C) * xs;
        for (int64_t i = 0; i < total; i++) cnt[i] = 0.0;
        int64_t first = 0;
        for (int64_t l = 0; l < nlev && l < mx; l++) {
            int64_t n = l + 1, st = counts[l], en = l + 1 < nlev ? counts[l + 1] : np;
            int64_t lcount = (en - st) / n, *ids = idx + first;
            first += lcount;
            if (n < mn || lcount == 0) continue;
            /* a skip s yields n-grams only while (n - 1)(s + 1) < C: bound
             * the attribute (2^62 in a hostile file) by the row length,
             * which also keeps (n - 1) * step below from overflowing */
            int64_t smax = n == 1 ? 0 : skips;
            if (n > 1 && smax > (C - 1) / (n - 1) - 1) smax = (C - 1) / (n - 1) - 1;
            for (int64_t s = 0; s <= smax; s++) {
                int64_t step = s + 1;
                for (int64_t i = 0; i + (n - 1) * step < C; i++) {
                    for (int64_t k = 0; k < n; k++)
                        cand[k] = nne_ld_i64(row + (size_t)(i + k * step) * xs, x->dtype, 0);
                    /* lower bound among the sorted n-grams of this level */
                    int64_t lo = 0, hi = lcount;
                    while (lo < hi) {
                        int64_t mid = lo + (hi - lo) / 2;
                        if (cmp_gram(pool + off[ids[mid]], cand, n) < 0) lo = mid + 1;
                        else hi = mid;
                    }
                    for (; lo < lcount && cmp_gram(pool + off[ids[lo]], cand, n) == 0; lo++)
                        cnt[ids[lo]] += 1.0;
                }
            }
        }
        float *yr = yv + r * W;
        for (int64_t i = 0; i < W; i++) yr[i] = 0.0f;
        for (int64_t i = 0; i < total; i++) {
            double c = cnt[i], w = weights ? weights[i] : 1.0;
            double v = mode == 0 ? c : mode == 1 ? (c > 0.0 ? w : 0.0) : c * w;
            yr[nidx[i]] += (float)v;
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(TfIdfVectorizer, "", "TfIdfVectorizer", .infer = tfidfvectorizer_run, .run = tfidf_kernel,
              .state_size = sizeof(tfidf_state));
