#ifndef NNE_UNIT_H
#define NNE_UNIT_H
#include <stdio.h>
extern int g_unit_pass, g_unit_fail;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) g_unit_pass++;                                                     \
        else {                                                                       \
            g_unit_fail++;                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)
void unit_api(void);
void unit_pb(void);
void unit_npy(void);
void unit_session(void);
void unit_models(void);
void unit_oom(void);
void unit_nn_kernels(void);
void unit_gemm(void);
void unit_elemwise(void);
void unit_fuzz_regress(void);
void unit_kernels(void);
void unit_vec(void);
void unit_attention(void);
void unit_plan(void);
void unit_save(void);
void unit_size(void);
void unit_passes(void);
void unit_limits(void);
void unit_dtype_io(void);
void unit_ops_phased(void);
void unit_fusion(void);
void unit_regions(void);
void unit_graph_runtime(void);
void unit_qgemm(void);
void unit_pipeline_audio(void);
void unit_quant(void);
void unit_pipeline(void);
void unit_train(void);
void unit_spmm(void);
#endif
