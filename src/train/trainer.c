/*
 * trainer.c - the training loop's engine: reverse-mode autodiff over the
 * graph IR, softmax cross-entropy (plus distillation), SGD and Adam.
 *
 * Create: find the parameters (float initializers in a differentiable slot
 * of a node whose op has a gradient rule, nne_op_def.gradient), mark them
 * (and BatchNormalization's running statistics) as model parameters so
 * their buffers are the model's own and writable, record masks of weights
 * that are exactly zero (pruned), and allocate optimizer state.
 * Plan (once per batch size): every value gets its shape from the op's own
 * shape inference (nne_node_infer), nodes computed from constants only are
 * evaluated once (nne_node_eval), every other node needs a gradient rule;
 * every value a gradient flows into gets a gradient buffer; each rule plans
 * its state. Step: forward (training mode), loss and d loss / d logits,
 * zero gradients, backward in reverse node order, check the gradients are
 * finite, update. Nothing is allocated per step.
 */
#include "train/train.h"
#include "kernels/dispatch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* NNE_TRAIN_PROFILE=1: per-node forward/backward seconds on stderr at destroy. */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct tparam {
    int v;          /* value index */
    float *m1, *m2; /* Adam moments / SGD velocity (m1) */
    uint8_t *mask;  /* NULL: dense; else 0 where the weight stays zero */
    int weight;     /* rank >= 2 (a weight, not a bias) */
} tparam;

struct nne_trainer {
    nne_model *m;
    nne_graph *g;
    nne_train_options o;
    nne_tctx c;
    int in_v, out_v;     /* the fed input and the logits */
    int64_t classes;
    int np;
    tparam *p;
    int64_t step;
    double loss0; /* the first step's loss (the divergence check's scale) */
    /* the plan for batch size `planned_n` */
    int64_t planned_n;
    nne_tval *vals;      /* g->n_values */
    nne_tnode *nodes;    /* n_tn nodes that run */
    int n_tn;
    nne_tensor *folded;  /* values computed from constants (owned data) */
    int n_folded;
    float *dlogits;
    int profile;
    double *prof; /* 2 per graph node: forward, backward seconds */
};

static const nne_grad_rule *rule_of(const nne_node *nd) { return nd->op ? (const nne_grad_rule *)nd->op->gradient : NULL; }

static void plan_free(nne_trainer *t) {
    if (t->nodes) {
        for (int i = 0; i < t->n_tn; i++) {
            nne_tnode *n = &t->nodes[i];
            if (n->rule && n->rule->free && n->state) n->rule->free(n);
            nne_free(n->state);
        }
        nne_free(t->nodes);
    }
    if (t->vals) {
        for (int v = 0; v < t->g->n_values; v++) {
            if (!t->vals[v].borrowed) nne_aligned_free(t->vals[v].x);
            nne_aligned_free(t->vals[v].g);
        }
        nne_free(t->vals);
    }
    for (int k = 0; k < t->n_folded; k++) nne_aligned_free(t->folded[k].data);
    nne_free(t->folded);
    nne_aligned_free(t->dlogits);
    t->nodes = NULL;
    t->vals = NULL;
    t->folded = NULL;
    t->n_folded = 0;
    t->n_tn = 0;
    t->dlogits = NULL;
    t->planned_n = 0;
}

static int is_param_value(const nne_trainer *t, int v) {
    for (int k = 0; k < t->np; k++)
        if (t->p[k].v == v) return 1;
    return 0;
}

/* Plan every node for batch size N. */
static nne_status plan_build(nne_trainer *t, int64_t N, const nne_tensor *x) {
    plan_free(t);
    nne_graph *g = t->g;
    nne_status st = NNE_OK;
    t->vals = nne_calloc((size_t)g->n_values + 1, sizeof *t->vals);
    t->nodes = nne_calloc((size_t)g->n_nodes + 1, sizeof *t->nodes);
    t->folded = nne_calloc((size_t)g->n_nodes + 1, sizeof *t->folded);
    if (!t->vals || !t->nodes || !t->folded) return nne_error(NNE_ERR_OUT_OF_MEMORY, "train: out of memory");
    /* constants */
    for (int v = 0; v < g->n_values; v++) {
        nne_value *val = &g->values[v];
        nne_tval *tv = &t->vals[v];
        if (val->kind != NNE_VAL_CONST) continue;
        tv->is_const = 1;
        tv->cst = &val->init;
        tv->ndim = val->init.ndim;
        memcpy(tv->dims, val->init.dims, sizeof tv->dims);
        tv->n = nne_tensor_numel(&val->init);
        if (val->init.dtype == NNE_DTYPE_FLOAT) {
            tv->x = val->init.data;
            tv->borrowed = 1;
        }
        tv->is_param = is_param_value(t, v);
    }
    /* the input */
    nne_tval *in = &t->vals[t->in_v];
    in->ndim = x->ndim;
    memcpy(in->dims, x->dims, sizeof in->dims);
    in->n = nne_tensor_numel(x);
    if (!(in->x = nne_train_alloc(in->n, "the input batch"))) return NNE_ERR_OUT_OF_MEMORY;
    /* nodes in order: shapes, folding, rules */
    uint8_t *needs = nne_calloc((size_t)g->n_values + 1, 1);
    if (!needs) return nne_error(NNE_ERR_OUT_OF_MEMORY, "train: out of memory");
    for (int k = 0; k < t->np; k++) needs[t->p[k].v] = 1;
    for (int ni = 0; ni < g->n_nodes && st == NNE_OK; ni++) {
        const nne_node *nd = &g->nodes[ni];
        if (nd->dead) continue;
        if (nd->n_in > NNE_TRAIN_MAX_IO || nd->n_out > NNE_TRAIN_MAX_IO) {
            st = nne_error(NNE_ERR_UNSUPPORTED, "train: node \"%s\" (%s) has too many inputs or outputs", nd->name,
                           nd->op_type);
            break;
        }
        const nne_tensor *ins[NNE_TRAIN_MAX_IO];
        nne_tensor tin[NNE_TRAIN_MAX_IO], outs[NNE_TRAIN_MAX_IO];
        uint8_t shape_only[NNE_TRAIN_MAX_IO];
        int all_const = 1;
        for (int k = 0; k < nd->n_in; k++) {
            int v = nd->in[k];
            ins[k] = NULL;
            shape_only[k] = 0;
            if (v < 0) continue;
            nne_tval *tv = &t->vals[v];
            memset(&tin[k], 0, sizeof tin[k]);
            if (tv->is_const && !tv->is_param) {
                tin[k] = *tv->cst;
            } else {
                all_const = 0;
                tin[k].dtype = NNE_DTYPE_FLOAT;
                tin[k].ndim = tv->ndim;
                memcpy(tin[k].dims, tv->dims, sizeof tin[k].dims);
                shape_only[k] = 1;
            }
            ins[k] = &tin[k];
        }
        int skipped = 0;
        if (all_const) { /* Constant nodes, shape arithmetic on initializers */
            st = nne_node_eval(g, ni, ins, (size_t)1 << 28, outs, &skipped);
            if (st != NNE_OK) break;
            if (skipped) {
                st = nne_error(NNE_ERR_UNSUPPORTED, "train: node \"%s\" (%s) cannot be computed ahead", nd->name,
                               nd->op_type);
                break;
            }
            for (int o = 0; o < nd->n_out; o++) {
                int v = nd->out[o];
                if (v < 0 || o > 0) {
                    nne_aligned_free(outs[o].data);
                    continue;
                }
                t->folded[t->n_folded] = outs[o];
                nne_tensor *ft = &t->folded[t->n_folded++];
                nne_tval *tv = &t->vals[v];
                tv->is_const = 1;
                tv->cst = ft;
                tv->ndim = ft->ndim;
                memcpy(tv->dims, ft->dims, sizeof tv->dims);
                tv->n = nne_tensor_numel(ft);
                if (ft->dtype == NNE_DTYPE_FLOAT) {
                    tv->x = ft->data;
                    tv->borrowed = 1;
                }
            }
            continue;
        }
        const nne_grad_rule *r = rule_of(nd);
        if (!r) {
            st = nne_error(NNE_ERR_UNSUPPORTED,
                           "train: node \"%s\" (%s) has no gradient rule; training supports Conv, Gemm, MatMul, "
                           "activations, pooling, BatchNormalization, Flatten/Reshape, Add/Sub/Mul, Concat, Dropout",
                           nd->name, nd->op_type);
            break;
        }
        st = nne_node_infer(g, ni, ins, shape_only, outs, &skipped);
        if (st != NNE_OK) break;
        if (skipped) {
            st = nne_error(NNE_ERR_UNSUPPORTED, "train: the output shape of node \"%s\" (%s) depends on data",
                           nd->name, nd->op_type);
            break;
        }
        nne_tnode *tn = &t->nodes[t->n_tn++];
        tn->g = g;
        tn->node = nd;
        tn->rule = r;
        tn->n_in = nd->n_in;
        tn->n_out = nd->n_out;
        int grad_in = 0;
        for (int k = 0; k < nd->n_in; k++) {
            int v = nd->in[k];
            tn->in[k] = v >= 0 ? &t->vals[v] : NULL;
            if (v >= 0 && !(t->vals[v].is_const && !t->vals[v].is_param) && tin[k].dtype == NNE_DTYPE_FLOAT &&
                (r->diff_inputs >> k & 1) && needs[v])
                grad_in = 1;
        }
        if (st != NNE_OK) break;
        for (int o = 0; o < nd->n_out; o++) {
            int v = nd->out[o];
            tn->out[o] = v >= 0 ? &t->vals[v] : NULL;
            if (v < 0) continue;
            nne_tval *tv = &t->vals[v];
            tv->ndim = outs[o].ndim;
            memcpy(tv->dims, outs[o].dims, sizeof tv->dims);
            tv->n = nne_tensor_numel(&outs[o]);
            if (!(tv->x = nne_train_alloc(tv->n, "an activation"))) {
                st = NNE_ERR_OUT_OF_MEMORY;
                break;
            }
            if (grad_in && o == 0) {
                needs[v] = 1;
                if (!(tv->g = nne_train_alloc(tv->n, "a gradient"))) {
                    st = NNE_ERR_OUT_OF_MEMORY;
                    break;
                }
            }
        }
    }
    /* gradients of parameters (allocated once they are known to be read) */
    for (int k = 0; k < t->np && st == NNE_OK; k++) {
        nne_tval *tv = &t->vals[t->p[k].v];
        if (!(tv->g = nne_train_alloc(tv->n, "a parameter gradient"))) st = NNE_ERR_OUT_OF_MEMORY;
    }
    nne_free(needs);
    if (st == NNE_OK && !t->vals[t->out_v].g)
        st = nne_error(NNE_ERR_INVALID_ARG, "train: no parameter influences the logits output \"%s\"",
                       g->values[t->out_v].name);
    if (st == NNE_OK) {
        const nne_tval *lv = &t->vals[t->out_v];
        if (lv->ndim != 2 || lv->dims[0] != N)
            st = nne_error(NNE_ERR_UNSUPPORTED, "train: the logits output \"%s\" must be (batch, classes); it is rank %d",
                           g->values[t->out_v].name, lv->ndim);
        else
            t->classes = lv->dims[1];
    }
    /* gradients written whole by their only reader need no zeroing */
    if (st == NNE_OK) {
        int *uses = nne_calloc((size_t)g->n_values + 1, sizeof(int));
        if (!uses) st = nne_error(NNE_ERR_OUT_OF_MEMORY, "train: out of memory");
        for (int i = 0; uses && i < t->n_tn; i++)
            for (int k = 0; k < t->nodes[i].n_in; k++)
                if (t->nodes[i].node->in[k] >= 0) uses[t->nodes[i].node->in[k]]++;
        for (int i = 0; uses && i < t->n_tn; i++) {
            nne_tnode *n = &t->nodes[i];
            int v = n->node->in[0];
            if (n->rule->assigns && v >= 0 && uses[v] == 1 && !g->values[v].is_output && t->vals[v].g &&
                !t->vals[v].is_param && v != t->out_v)
                t->vals[v].g_assign = 1;
        }
        nne_free(uses);
    }
    for (int i = 0; i < t->n_tn && st == NNE_OK; i++) {
        nne_tnode *n = &t->nodes[i];
        if (n->rule->state_size && !(n->state = nne_calloc(1, n->rule->state_size))) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "train: out of memory");
            break;
        }
        if (n->rule->plan) st = n->rule->plan(n, &t->c);
    }
    if (st == NNE_OK && !(t->dlogits = nne_train_alloc(N * t->classes, "the logits gradient"))) st = NNE_ERR_OUT_OF_MEMORY;
    if (st != NNE_OK) {
        plan_free(t);
        return st;
    }
    t->planned_n = N;
    return NNE_OK;
}

/* Parameters: float initializers in a differentiable slot of a node with a rule. */
static nne_status find_params(nne_trainer *t) {
    nne_graph *g = t->g;
    int *is_p = nne_calloc((size_t)g->n_values + 1, sizeof(int));
    if (!is_p) return nne_error(NNE_ERR_OUT_OF_MEMORY, "train: out of memory");
    nne_status st = NNE_OK;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const nne_node *nd = &g->nodes[ni];
        const nne_grad_rule *r = rule_of(nd);
        if (nd->dead || !r) continue;
        for (int k = 0; k < nd->n_in && k < 32; k++) {
            int v = nd->in[k];
            if (v < 0 || g->values[v].kind != NNE_VAL_CONST || g->values[v].init.dtype != NNE_DTYPE_FLOAT) continue;
            int bn_state = strcmp(nd->op_type, "BatchNormalization") == 0 && (k == 3 || k == 4);
            /* Reshape's shape, Clip's bounds, Dropout's ratio: not weights */
            if (!(r->diff_inputs >> k & 1) && !bn_state) continue;
            if ((st = nne_model_param_mark(t->m, g->values[v].name)) != NNE_OK) goto done;
            if (!bn_state) is_p[v] = 1;
        }
    }
    for (int v = 0; v < g->n_values; v++) t->np += is_p[v];
    if (!t->np) {
        st = nne_error(NNE_ERR_INVALID_ARG, "train: the model has no float weights to train");
        goto done;
    }
    t->p = nne_calloc((size_t)t->np, sizeof *t->p);
    if (!t->p) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "train: out of memory");
        goto done;
    }
    int k = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (!is_p[v]) continue;
        tparam *p = &t->p[k++];
        const nne_tensor *w = &g->values[v].init;
        int64_t n = nne_tensor_numel(w);
        p->v = v;
        p->weight = w->ndim >= 2;
        if (!(p->m1 = nne_train_alloc(n, "optimizer state")) || !(p->m2 = nne_train_alloc(n, "optimizer state"))) {
            st = NNE_ERR_OUT_OF_MEMORY;
            goto done;
        }
        int64_t zeros = 0;
        for (int64_t i = 0; i < n; i++) zeros += ((const float *)w->data)[i] == 0.0f;
        if (p->weight && zeros) {
            p->mask = nne_aligned_alloc((size_t)n);
            if (!p->mask) {
                st = nne_error(NNE_ERR_OUT_OF_MEMORY, "train: out of memory");
                goto done;
            }
            for (int64_t i = 0; i < n; i++) p->mask[i] = ((const float *)w->data)[i] != 0.0f;
        }
    }
done:
    nne_free(is_p);
    return st;
}

nne_status nne_trainer_create(nne_model *m, const nne_train_options *opt, nne_trainer **out) {
    if (!out) return nne_error(NNE_ERR_INVALID_ARG, "nne_trainer_create: NULL out");
    *out = NULL;
    if (!m || !m->graph) return nne_error(NNE_ERR_INVALID_ARG, "nne_trainer_create: NULL model");
    nne_train_options o = nne_train_options_default();
    NNE_TRY(nne_options_read(&o, sizeof o, opt, "nne_train_options"));
    if (!(o.lr > 0 && isfinite(o.lr)) || !(o.momentum >= 0 && o.momentum < 1) || !(o.weight_decay >= 0) ||
        !(o.kd_alpha >= 0 && o.kd_alpha <= 1) || !(o.kd_temperature > 0 && isfinite(o.kd_temperature)) ||
        !(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) || !(o.eps > 0) ||
        (o.optimizer != NNE_OPTIM_ADAM && o.optimizer != NNE_OPTIM_SGD) || o.threads < 1 || o.threads > 1024)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_trainer_create: an option is out of range (lr > 0, momentum in [0, 1), "
                         "weight decay >= 0, kd alpha in [0, 1], temperature > 0, threads 1..1024)");
    if (__atomic_load_n(&m->shared, __ATOMIC_ACQUIRE))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_trainer_create: sessions were created on this model; create the "
                         "trainer right after loading");
    if (m->n_feed != 1)
        return nne_error(NNE_ERR_UNSUPPORTED, "train: the model has %d inputs to feed; training needs exactly one",
                         m->n_feed);
    NNE_TRY(nne_model_weights_ready(m));
    nne_trainer *t = nne_calloc(1, sizeof *t);
    if (!t) return nne_error(NNE_ERR_OUT_OF_MEMORY, "train: out of memory");
    t->m = m;
    t->g = m->graph;
    t->o = o;
    t->in_v = m->feed[0];
    t->out_v = -1;
    const char *pe = getenv("NNE_TRAIN_PROFILE");
    if (pe && pe[0] == '1') t->prof = nne_calloc((size_t)t->g->n_nodes * 2 + 2, sizeof(double));
    nne_status st = NNE_OK;
    if (o.output) {
        for (int k = 0; k < t->g->n_outputs; k++)
            if (strcmp(t->g->values[t->g->outputs[k]].name, o.output) == 0) t->out_v = t->g->outputs[k];
        if (t->out_v < 0) st = nne_error(NNE_ERR_INVALID_ARG, "train: the model has no output named \"%s\"", o.output);
    } else if (t->g->n_outputs > 0)
        t->out_v = t->g->outputs[0];
    else
        st = nne_error(NNE_ERR_INVALID_ARG, "train: the model has no output");
    if (st == NNE_OK && t->g->values[t->in_v].dtype != NNE_DTYPE_FLOAT)
        st = nne_error(NNE_ERR_UNSUPPORTED, "train: the input \"%s\" is %s; training needs a float32 input",
                       t->g->values[t->in_v].name, nne_dtype_name(t->g->values[t->in_v].dtype));
    if (st == NNE_OK) st = find_params(t);
    if (st == NNE_OK) {
        const nne_kernel_table *kt = nne_kernels();
        t->c.ops = kt->sgemm;
        if (o.threads > 1) t->c.pool = nne_threadpool_create(o.threads, nne_sgemm_worker_scratch());
        t->c.rng = o.seed * 0x9E3779B97F4A7C15ull + 1;
        /* classes: plan once for a batch of 1 */
        const nne_value *iv = &t->g->values[t->in_v];
        nne_tensor x1;
        memset(&x1, 0, sizeof x1);
        x1.dtype = NNE_DTYPE_FLOAT;
        x1.ndim = iv->ndim;
        if (iv->ndim < 1) st = nne_error(NNE_ERR_UNSUPPORTED, "train: the input \"%s\" has no batch axis", iv->name);
        for (int d = 0; d < iv->ndim && st == NNE_OK; d++) {
            x1.dims[d] = d == 0 ? 1 : iv->dims[d];
            if (x1.dims[d] < 0)
                st = nne_error(NNE_ERR_UNSUPPORTED, "train: the input \"%s\" has a symbolic axis %d besides the batch",
                               iv->name, d);
        }
        if (st == NNE_OK) st = plan_build(t, 1, &x1);
    }
    if (st != NNE_OK) {
        nne_trainer_destroy(t);
        return st;
    }
    *out = t;
    return NNE_OK;
}

void nne_trainer_destroy(nne_trainer *t) {
    if (!t) return;
    if (t->prof) {
        for (int i = 0; i < t->g->n_nodes; i++)
            if (t->prof[2 * i] + t->prof[2 * i + 1] > 0)
                fprintf(stderr, "train profile: %-40s %-20s forward %8.3f s  backward %8.3f s\n", t->g->nodes[i].name,
                        t->g->nodes[i].op_type, t->prof[2 * i], t->prof[2 * i + 1]);
        nne_free(t->prof);
    }
    plan_free(t);
    for (int k = 0; k < t->np; k++) {
        nne_aligned_free(t->p[k].m1);
        nne_aligned_free(t->p[k].m2);
        nne_aligned_free(t->p[k].mask);
    }
    nne_free(t->p);
    nne_threadpool_destroy(t->c.pool);
    nne_aligned_free(t->c.gemm_scratch);
    /* the parameters changed: bump their versions */
    for (int32_t i = 0; i < nne_model_num_params(t->m); i++) {
        nne_tensor view;
        if (nne_model_param_get(t->m, i, NULL, &view, NULL) == NNE_OK) nne_model_param_set(t->m, i, &view);
    }
    nne_free(t);
}

int64_t nne_trainer_classes(const nne_trainer *t) { return t ? t->classes : 0; }

void nne_trainer_set_lr(nne_trainer *t, float lr) {
    if (t && lr > 0 && isfinite(lr)) t->o.lr = lr;
}

/* 1 when value v's only consumers lead (through BN/pooling) to a ReLU-like op */
static int feeds_relu(const nne_graph *g, int v, int depth) {
    if (depth > 4) return 0;
    int found = 0, other = 0;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const nne_node *nd = &g->nodes[ni];
        if (nd->dead) continue;
        for (int k = 0; k < nd->n_in; k++) {
            if (nd->in[k] != v) continue;
            const char *op = nd->op_type;
            if (!strcmp(op, "Relu") || !strcmp(op, "LeakyRelu") || !strcmp(op, "Elu") || !strcmp(op, "HardSwish") ||
                !strcmp(op, "Clip"))
                found = 1;
            else if ((!strcmp(op, "BatchNormalization") || !strcmp(op, "MaxPool") || !strcmp(op, "Add") ||
                      !strcmp(op, "AveragePool")) && k == 0 && nd->n_out > 0 && nd->out[0] >= 0 &&
                     feeds_relu(g, nd->out[0], depth + 1))
                found = 1;
            else
                other = 1;
        }
    }
    return found && !other;
}

static double randn(uint64_t *s) {
    double u1 = nne_train_rand(s), u2 = nne_train_rand(s);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

nne_status nne_trainer_reinit(nne_trainer *t, uint64_t seed) {
    if (!t) return nne_error(NNE_ERR_INVALID_ARG, "nne_trainer_reinit: NULL trainer");
    nne_graph *g = t->g;
    uint64_t rng = seed * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull;
    for (int ni = 0; ni < g->n_nodes; ni++) {
        const nne_node *nd = &g->nodes[ni];
        if (nd->dead) continue;
        int is_conv = !strcmp(nd->op_type, "Conv"), is_gemm = !strcmp(nd->op_type, "Gemm"),
            is_mm = !strcmp(nd->op_type, "MatMul"), is_bn = !strcmp(nd->op_type, "BatchNormalization");
        if (!is_conv && !is_gemm && !is_mm && !is_bn) continue;
        for (int k = 0; k < nd->n_in; k++) {
            int v = nd->in[k];
            if (v < 0 || !g->values[v].trainable || g->values[v].init.dtype != NNE_DTYPE_FLOAT) continue;
            nne_tensor *w = &g->values[v].init;
            float *d = w->data;
            int64_t n = nne_tensor_numel(w);
            const uint8_t *mask = NULL;
            for (int q = 0; q < t->np; q++)
                if (t->p[q].v == v) mask = t->p[q].mask;
            if (is_bn) {
                float val = (k == 1 || k == 4) ? 1.0f : 0.0f;
                for (int64_t i = 0; i < n; i++) d[i] = val;
                continue;
            }
            if (w->ndim < 2) {
                for (int64_t i = 0; i < n; i++) d[i] = 0.0f;
                continue;
            }
            int64_t fan_in, fan_out;
            if (is_conv) {
                int64_t rf = n / (w->dims[0] * w->dims[1]);
                fan_in = w->dims[1] * rf;
                fan_out = w->dims[0] * rf;
            } else if (is_gemm && k == 1 && nne_train_attr_i(nd, "transB", 0)) {
                fan_in = w->dims[1];
                fan_out = w->dims[0];
            } else if (is_gemm && k == 0 && !nne_train_attr_i(nd, "transA", 0)) {
                fan_in = w->dims[1];
                fan_out = w->dims[0];
            } else {
                fan_in = w->dims[0];
                fan_out = w->dims[w->ndim - 1];
            }
            int he = nd->n_out > 0 && nd->out[0] >= 0 && feeds_relu(g, nd->out[0], 0);
            if (he) {
                double sd = sqrt(2.0 / (double)(fan_in > 0 ? fan_in : 1));
                for (int64_t i = 0; i < n; i++) d[i] = (float)(randn(&rng) * sd);
            } else {
                double lim = sqrt(6.0 / (double)(fan_in + fan_out > 0 ? fan_in + fan_out : 1));
                for (int64_t i = 0; i < n; i++) d[i] = (float)((2.0 * nne_train_rand(&rng) - 1.0) * lim);
            }
            if (mask)
                for (int64_t i = 0; i < n; i++)
                    if (!mask[i]) d[i] = 0.0f;
        }
    }
    for (int q = 0; q < t->np; q++) {
        int64_t n = nne_tensor_numel(&g->values[t->p[q].v].init);
        memset(t->p[q].m1, 0, (size_t)n * sizeof(float));
        memset(t->p[q].m2, 0, (size_t)n * sizeof(float));
    }
    t->step = 0;
    return NNE_OK;
}

static nne_status check_batch(nne_trainer *t, const nne_tensor *x, const int64_t *labels) {
    const nne_value *iv = &t->g->values[t->in_v];
    if (!x || x->dtype != NNE_DTYPE_FLOAT || !x->data || x->ndim != iv->ndim || x->dims[0] < 1)
        return nne_error(NNE_ERR_INVALID_ARG, "train: the batch must be float32 of rank %d with samples on axis 0",
                         iv->ndim);
    for (int d = 1; d < x->ndim; d++)
        if (x->dims[d] != iv->dims[d]) {
            char a[128], b[128];
            return nne_error(NNE_ERR_INVALID_ARG, "train: the batch has shape %s; the model's input \"%s\" is %s",
                             nne_dims_str(x->ndim, x->dims, a, sizeof a), iv->name,
                             nne_dims_str(iv->ndim, iv->dims, b, sizeof b));
        }
    if (labels)
        for (int64_t i = 0; i < x->dims[0]; i++)
            if (labels[i] < 0 || labels[i] >= t->classes)
                return nne_error(NNE_ERR_INVALID_ARG, "train: label %lld of sample %lld is outside the model's classes "
                                 "[0, %lld)", (long long)labels[i], (long long)i, (long long)t->classes);
    if (x->dims[0] != t->planned_n) NNE_TRY(plan_build(t, x->dims[0], x));
    memcpy(t->vals[t->in_v].x, x->data, (size_t)nne_tensor_numel(x) * sizeof(float));
    return NNE_OK;
}

static nne_status forward(nne_trainer *t, int training) {
    t->c.training = training;
    for (int i = 0; i < t->n_tn; i++) {
        double t0 = t->prof ? now_s() : 0;
        NNE_TRY(t->nodes[i].rule->forward(&t->nodes[i], &t->c));
        if (t->prof) t->prof[2 * (t->nodes[i].node - t->g->nodes)] += now_s() - t0;
    }
    return NNE_OK;
}

/* Softmax cross-entropy (+ distillation) of the logits: mean loss, hits,
 * and (when dl != NULL) d loss / d logits. */
static double loss_of(const nne_trainer *t, int64_t N, const int64_t *labels, const float *teacher, float *dl,
                      int64_t *correct) {
    const float *z = t->vals[t->out_v].x;
    int64_t C = t->classes;
    double total = 0;
    double a = teacher ? t->o.kd_alpha : 0.0, T = t->o.kd_temperature;
    *correct = 0;
    for (int64_t i = 0; i < N; i++) {
        const float *zi = z + i * C;
        float mx = zi[0];
        int64_t arg = 0;
        for (int64_t k = 1; k < C; k++)
            if (zi[k] > mx || zi[k] != zi[k]) {
                mx = zi[k];
                arg = k;
            }
        if (labels && arg == labels[i]) (*correct)++;
        double se = 0;
        for (int64_t k = 0; k < C; k++) se += exp((double)zi[k] - mx);
        double lse = mx + log(se);
        double ce = labels ? lse - zi[labels[i]] : 0.0;
        if (dl)
            for (int64_t k = 0; k < C; k++) {
                double p = exp((double)zi[k] - lse);
                dl[i * C + k] = (float)((1.0 - a) * (p - (labels && k == labels[i] ? 1.0 : 0.0)) / (double)N);
            }
        double kd = 0;
        if (teacher) {
            const float *ti = teacher + i * C;
            double ms = -INFINITY, mt = -INFINITY;
            for (int64_t k = 0; k < C; k++) {
                if (zi[k] / T > ms) ms = zi[k] / T;
                if (ti[k] / T > mt) mt = ti[k] / T;
            }
            double ss = 0, stt = 0;
            for (int64_t k = 0; k < C; k++) {
                ss += exp(zi[k] / T - ms);
                stt += exp(ti[k] / T - mt);
            }
            double ls = ms + log(ss), lt = mt + log(stt);
            for (int64_t k = 0; k < C; k++) {
                double lps = zi[k] / T - ls, lpt = ti[k] / T - lt, pt = exp(lpt);
                kd += pt * (lpt - lps);
                if (dl) dl[i * C + k] += (float)(a * T * (exp(lps) - pt) / (double)N);
            }
        }
        total += (1.0 - a) * ce + a * T * T * kd;
    }
    return total / (double)N;
}

static nne_status optimize(nne_trainer *t) {
    t->step++;
    const nne_train_options *o = &t->o;
    double bc1 = 1.0 - pow(o->beta1, (double)t->step), bc2 = 1.0 - pow(o->beta2, (double)t->step);
    for (int q = 0; q < t->np; q++) {
        tparam *p = &t->p[q];
        nne_tval *tv = &t->vals[p->v];
        float *w = tv->x, *gr = tv->g, *m1 = p->m1, *m2 = p->m2;
        int64_t n = tv->n;
        float wd = o->weight_decay, lr = o->lr;
        if (o->optimizer == NNE_OPTIM_ADAM) {
            float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
            float step = (float)(lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
            for (int64_t i = 0; i < n; i++) {
                float gi = gr[i] + wd * w[i];
                m1[i] = b1 * m1[i] + (1.0f - b1) * gi;
                m2[i] = b2 * m2[i] + (1.0f - b2) * gi * gi;
                w[i] -= step * m1[i] / (sqrtf(m2[i]) * rbc2 + eps);
            }
        } else {
            float mu = o->momentum;
            for (int64_t i = 0; i < n; i++) {
                float gi = gr[i] + wd * w[i];
                m1[i] = mu * m1[i] + gi;
                w[i] -= lr * m1[i];
            }
        }
        if (p->mask)
            for (int64_t i = 0; i < n; i++)
                if (!p->mask[i]) {
                    w[i] = 0.0f;
                    m1[i] = m2[i] = 0.0f;
                }
    }
    return NNE_OK;
}

nne_status nne_trainer_step(nne_trainer *t, const nne_tensor *x, const int64_t *labels,
                            const nne_tensor *teacher_logits, nne_train_stats *stats) {
    if (!t || !labels) return nne_error(NNE_ERR_INVALID_ARG, "nne_trainer_step: NULL argument");
    NNE_TRY(check_batch(t, x, labels));
    int64_t N = x->dims[0];
    const float *teacher = NULL;
    if (teacher_logits) {
        if (teacher_logits->dtype != NNE_DTYPE_FLOAT || teacher_logits->ndim != 2 || teacher_logits->dims[0] != N ||
            teacher_logits->dims[1] != t->classes || !teacher_logits->data)
            return nne_error(NNE_ERR_INVALID_ARG, "train: the teacher's logits must be float32 (%lld, %lld)",
                             (long long)N, (long long)t->classes);
        teacher = teacher_logits->data;
    }
    NNE_TRY(forward(t, 1));
    int64_t correct = 0;
    double loss = loss_of(t, N, labels, teacher, t->dlogits, &correct);
    if (!isfinite(loss))
        return nne_error(NNE_ERR_INVALID_ARG, "train: the loss is %s at step %lld: training diverged; try a lower "
                         "learning rate (--lr)", isnan(loss) ? "NaN" : "infinite", (long long)t->step + 1);
    /* a finite loss far above where it started diverged too (weights
     * blown up by too high a rate: a garbage model, not a trained one);
     * cross-entropy of a uniform guess is ln(classes) */
    if (t->step == 0) t->loss0 = loss;
    double scale = t->loss0 > log((double)(t->classes > 2 ? t->classes : 2)) ? t->loss0 : log((double)(t->classes > 2 ? t->classes : 2));
    if (loss > 1000.0 * scale)
        return nne_error(NNE_ERR_INVALID_ARG, "train: the loss grew from %.4g (step 1) to %.4g at step %lld: training "
                         "diverged; try a lower learning rate (--lr)", t->loss0, loss, (long long)t->step + 1);
    for (int v = 0; v < t->g->n_values; v++)
        if (t->vals[v].g && !t->vals[v].g_assign) memset(t->vals[v].g, 0, (size_t)t->vals[v].n * sizeof(float));
    memcpy(t->vals[t->out_v].g, t->dlogits, (size_t)(N * t->classes) * sizeof(float));
    for (int i = t->n_tn - 1; i >= 0; i--) {
        double t0 = t->prof ? now_s() : 0;
        NNE_TRY(t->nodes[i].rule->backward(&t->nodes[i], &t->c));
        if (t->prof) t->prof[2 * (t->nodes[i].node - t->g->nodes) + 1] += now_s() - t0;
    }
    for (int q = 0; q < t->np; q++) {
        const nne_tval *tv = &t->vals[t->p[q].v];
        int64_t i = 0;
        while (i < tv->n && isfinite(tv->g[i])) i++;
        if (i < tv->n)
            return nne_error(NNE_ERR_INVALID_ARG, "train: the gradient of \"%s\" is not finite at step %lld: training "
                             "diverged; try a lower learning rate (--lr)", t->g->values[t->p[q].v].name,
                             (long long)t->step + 1);
    }
    NNE_TRY(optimize(t));
    if (stats) {
        stats->loss = loss;
        stats->correct = correct;
        stats->n = N;
    }
    return NNE_OK;
}

nne_status nne_trainer_eval(nne_trainer *t, const nne_tensor *x, const int64_t *labels, float *logits,
                            nne_train_stats *stats) {
    if (!t) return nne_error(NNE_ERR_INVALID_ARG, "nne_trainer_eval: NULL trainer");
    NNE_TRY(check_batch(t, x, labels));
    int64_t N = x->dims[0];
    NNE_TRY(forward(t, 0));
    int64_t correct = 0;
    double loss = loss_of(t, N, labels, NULL, NULL, &correct);
    if (logits) memcpy(logits, t->vals[t->out_v].x, (size_t)(N * t->classes) * sizeof(float));
    if (stats) {
        stats->loss = loss;
        stats->correct = correct;
        stats->n = N;
    }
    return NNE_OK;
}

/* ---- test hooks (tests/unit/test_train.c): the planned values ---- */
nne_tval *nne_trainer_value(nne_trainer *t, const char *name) {
    int v = nne_graph_find(t->g, name);
    return v >= 0 && t->vals ? &t->vals[v] : NULL;
}
