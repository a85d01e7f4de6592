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
int cli_quantize(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_prune(int argc, char **argv);
int cli_convert(int argc, char **argv);
int cli_keygen(int argc, char **argv);
int cli_pack(int argc, char **argv);
int cli_verify(int argc, char **argv);
int cli_install(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_agent(int argc, char **argv);
int cli_fleet(int argc, char **argv);
int cli_sign(int argc, char **argv);
int cli_revoke(int argc, char **argv);
/* `nnedge app NAME ...` (app.c) and its applications */
int cli_app(int argc, char **argv);
int cli_app_wakeword(int argc, char **argv);

/* Print "nnedge: <context>: <last error>" and map the status to an exit code. */
int cli_fail(nne_status st, const char *context);
/* Print a usage/argument error and return EXIT_BAD_INPUT. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parse "NAME=1x3x224x224" into name and dims. Returns 0 on error. */
int cli_parse_shape(const char *arg, char *name, size_t name_cap, nne_tensor *t);
/* The value of option argv[*i] (advancing *i), or NULL after printing
 * "option -i needs a value NAME=FILE.npy" (what = "NAME=FILE.npy") when it is
 * missing or the next argument is another option. */
const char *cli_opt_value(int argc, char **argv, int *i, const char *what);
/* A file base name (no extension) for a tensor named `name` (run's outputs,
 * dumps): the name itself when it is a safe file name, else the name made
 * safe, cut at 160 bytes, with "_" and a 64-bit hash of the full name
 * appended (tools/cli/run.c says which names). cap >= 256. Callers that
 * write several files still check for collisions (case-insensitively). */
void cli_safe_file_name(const char *name, char *out, size_t cap);
/* Parse a positive integer option value. */
int cli_parse_int(const char *s, long lo, long hi, long *out);
/* Write s as a JSON string: quotes, backslashes and control characters
 * escaped, every byte that is not part of valid UTF-8 written as U+FFFD (so
 * the output is valid JSON whatever a path or a model's names hold). The one
 * JSON string writer of every verb. */
void json_str(FILE *f, const char *s);
/* Length (1-4) of the valid UTF-8 sequence at s, 0 when the bytes there are
 * not valid UTF-8 (overlong, surrogate, past U+10FFFF, truncated). */
int cli_utf8_len(const unsigned char *s);
void json_dims(FILE *f, int ndim, const int64_t *dims);
double cli_now_ms(void);
/* Prepare a session with the model's declared input shapes, overridden by
 * `shapes` (n entries), symbolic dims defaulting to 1; fills `inputs` (one per
 * model input, dtype and dims set, data NULL). */
nne_status cli_input_shapes(const nne_model *m, int n, char (*names)[256], const nne_tensor *shapes,
                            nne_tensor *inputs);

/* `run --dump DIR` (dump.c): every intermediate tensor as .npy + index.json. */
typedef struct cli_dump cli_dump;
cli_dump *cli_dump_create(const char *dir);
void cli_dump_attach(cli_dump *d, nne_session *s);
const char *cli_dump_error(const cli_dump *d); /* NULL when every write worked */
int cli_dump_write_index(const cli_dump *d);   /* 0 on failure */
void cli_dump_destroy(cli_dump *d);
/* Limits of every verb that loads a model (limits.c). */
typedef struct cli_limits {
    size_t max_memory; /* --max-memory: 0 the library default, SIZE_MAX none */
    int64_t max_loop;  /* --max-loop-iterations: 0 the library default */
    size_t used;       /* the command's own buffers charged so far */
} cli_limits;
#define CLI_LIMITS_USAGE "[--max-memory SIZE] [--max-loop-iterations N] [--timeout-ms N] [--trust PUB] [--revoked FILE] [--key DEVICE.sec]"
extern long cli_timeout_ms; /* --timeout-ms given (0: none) */
/* argv[*i] is a limit option: parse its value (advancing *i) and return 1;
 * -1 after printing the error for a bad value; 0 for any other option. */
int cli_limit_option(int argc, char **argv, int *i, cli_limits *l);
/* Charge n bytes of the command's own buffers; 0 (error printed) over the limit. */
int cli_limits_charge(cli_limits *l, size_t n, const char *what);
/* Set the session's memory limit (what the command's buffers left), Loop cap
 * and deadline; 0 (error printed) when nothing is left. */
int cli_limits_apply(const cli_limits *l, nne_session_options *so);
/* Load a model under what is left of the limit (options from base, may be
 * NULL) and charge its memory. */
/* "--max-memory is N bytes: the model holds M, ..." for an out-of-memory
 * message of a command that loaded its model with cli_load_model; 0 if none. */
int cli_limits_describe(char *buf, size_t cap);
nne_status cli_load_model(const char *path, cli_limits *l, const nne_model_options *base, nne_model **m);

#endif
