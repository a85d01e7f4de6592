/*
 * app.h - the `nnedge app` applications (app.c dispatches) and the helpers
 * the image applications share (app_image.c).
 */
#ifndef NNE_CLI_APP_H
#define NNE_CLI_APP_H

#include "cli.h"
#include "nnedge_image.h"

int cli_app(int argc, char **argv);
int cli_app_ocr(int argc, char **argv);
int cli_app_classify(int argc, char **argv);

/* A model with one session, prepared again only when its input shape
 * changes. */
typedef struct app_model {
    nne_model *m;
    nne_session *s;
    char input[256];
    nne_tensor shape; /* the shape last prepared (data unused) */
    int prepared;
} app_model;

/* Load (cli_load_model, then basic optimizations) and create the session;
 * prints the error and returns its exit code, or EXIT_OK. */
int app_model_open(app_model *am, const char *path, int threads, cli_limits *lim);
/* Run with `in` as the model's first input; *out = output 0 (valid until
 * the next run). Prints the error and returns its exit code, or EXIT_OK. */
int app_model_run(app_model *am, const nne_tensor *in, nne_tensor *out, const char *what);
void app_model_close(app_model *am);
/* Decode an image file into 8-bit RGB; prints the error (exit 2) on failure. */
int app_image_load(const char *path, nne_image *im);

#endif
