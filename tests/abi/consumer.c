/*
 * consumer.c - a program outside the source tree that uses an installed
 * nnedge through pkg-config (tests/abi/install.sh builds it against the
 * shared and the static library). It checks that the installed header and
 * library agree on the version, loads a model given on the command line,
 * runs z = x + y on 2x3 floats and checks the sums.
 * Usage: consumer MODEL(add_2x3.onnx)  -> prints "ok <version>", exit 0
 */
#include <nnedge.h>

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", NNE_VERSION_MAJOR, NNE_VERSION_MINOR, NNE_VERSION_PATCH);
    if (argc != 2 || strcmp(nne_version(), want) != 0 || nne_version_number() != NNE_VERSION_NUMBER) {
        fprintf(stderr, "consumer: usage: consumer MODEL; or the header (%s) and library (%s) versions differ\n",
                want, nne_version());
        return 1;
    }
    nne_model_options mo = nne_model_options_default();
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_session_options so = nne_session_options_default();
    float x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {10, 20, 30, 40, 50, 60};
    nne_tensor tx = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {2, 3}, .data = x};
    nne_tensor ty = tx, out;
    ty.data = y;
    const char *names[2] = {"x", "y"};
    nne_tensor shapes[2] = {tx, ty};
    if (nne_model_load_file(argv[1], &mo, &m) != NNE_OK || nne_session_create(m, &so, &s) != NNE_OK ||
        nne_session_prepare(s, 2, names, shapes) != NNE_OK || nne_session_set_input(s, "x", &tx) != NNE_OK ||
        nne_session_set_input(s, "y", &ty) != NNE_OK || nne_session_run(s) != NNE_OK ||
        nne_session_output(s, 0, &out) != NNE_OK) {
        fprintf(stderr, "consumer: %s\n", nne_last_error());
        return 1;
    }
    int ok = out.dtype == NNE_DTYPE_FLOAT && out.ndim == 2 && out.dims[0] == 2 && out.dims[1] == 3;
    for (int i = 0; ok && i < 6; i++) ok = ((const float *)out.data)[i] == x[i] + y[i];
    nne_session_destroy(s);
    nne_model_destroy(m);
    if (!ok) {
        fprintf(stderr, "consumer: wrong output\n");
        return 1;
    }
    printf("ok %s\n", nne_version());
    return 0;
}
