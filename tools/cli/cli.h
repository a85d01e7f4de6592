/*
 * cli.h - shared helpers of the nnedge command (public API only).
 */
#ifndef NNE_CLI_H
#define NNE_CLI_H

#include "nnedge.h"
#include <stdio.h>

/* Exit codes of every verb (DESIGN.md section 4). */
enum { EXIT_OK = 0, EXIT_INTERNAL = 1, EXIT_BAD_INPUT = 2 };

int cli_info(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_convert(int argc, char **argv);

/* Print "nnedge: <context>: <last error>" and map the status to an exit code. */
int cli_fail(nne_status st, const char *context);
/* Print a usage/argument error and return EXIT_BAD_INPUT. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse "NAME=1x3x224x224" into name and dims. Returns 0 on error. */
int cli_parse_shape(const char *arg, char *name, size_t name_cap, nne_tensor *t);
/* Parse a positive integer option value. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
void json_str(FILE *f, const char *s);
void json_dims(FILE *f, int ndim, const int64_t *dims);
double cli_now_ms(void);
/* Prepare a session with the model's declared input shapes, overridden by
 * `shapes` (n entries), symbolic dims defaulting to 1; fills `inputs` (one per
 * model input, dtype and dims set, data NULL). */
nne_status cli_input_shapes(const nne_model *m, int n, char (*names)[256], const nne_tensor *shapes,
                            nne_tensor *inputs);

#endif
