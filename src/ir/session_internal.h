/*
 * session_internal.h - plan and session introspection for tests.
 */
#ifndef NNE_IR_SESSION_INTERNAL_H
#define NNE_IR_SESSION_INTERNAL_H
#include "nnedge.h"
/* Nodes folded at prepare, run from the plan, and shaped at run time. */
void nne_session_debug_counts(const nne_session *s, int *folded, int *planned, int *dynamic);
void nne_plan_debug_counts(const nne_plan *p, int *folded, int *planned, int *dynamic);
/* Number of planner violations: buffers outside the arena, or two buffers
 * with intersecting lifetimes that overlap in memory. 0 is correct. */
int nne_session_plan_check(const nne_session *s);
int nne_plan_check(const nne_plan *p);
/* 1 when node i is planned with per-node state (a phased op, statically shaped). */
int nne_plan_node_phased(const nne_plan *p, int i);
/* Largest scratch of one node in bytes (each context allocates it once). */
size_t nne_plan_scratch_bytes(const nne_plan *p);
/* The plan and context behind a prepared session (NULL before prepare). */
const nne_plan *nne_session_plan(const nne_session *s);
nne_context *nne_session_context(nne_session *s);
/* Packed weights cached by the model: entries and bytes. */
void nne_model_wcache_stats(const nne_model *m, int *entries, size_t *bytes);
#endif
