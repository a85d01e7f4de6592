/*
 * test_main.c - unit tests for the protobuf reader, .npy reader, shape
 * helpers and the planner. Prints "N passed, M failed".
 */
#include "unit.h"

#include <stdio.h>

int g_unit_pass, g_unit_fail;

int main(void) {
    unit_api();
    unit_pb();
    unit_npy();
    unit_session();
    unit_models();
    unit_oom();
    unit_nn_kernels();
    unit_gemm();
    unit_elemwise();
    unit_fuzz_regress();
    unit_kernels();
    unit_vec();
    unit_spmm();
    unit_attention();
    unit_plan();
    unit_save();
    unit_size();
    unit_passes();
    unit_limits();
    unit_dtype_io();
    unit_ops_phased();
    unit_fusion();
    unit_regions();
    unit_graph_runtime();
    unit_qgemm();
    unit_pipeline_audio();
    unit_quant();
    unit_pipeline();
    unit_train();
    printf("%d passed, %d failed\n", g_unit_pass, g_unit_fail);
    return g_unit_fail ? 1 : 0;
}
