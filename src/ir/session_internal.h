/*
 * session_internal.h - session introspection for tests.
 */
#ifndef NNE_IR_SESSION_INTERNAL_H
#define NNE_IR_SESSION_INTERNAL_H
#include "nnedge.h"
/* Nodes folded at prepare, run from the plan, and shaped at run time. */
void nne_session_debug_counts(const nne_session *s, int *folded, int *planned, int *dynamic);
/* Number of planner violations: buffers outside the arena, or two buffers
 * with intersecting lifetimes that overlap in memory. 0 is correct. */
int nne_session_plan_check(const nne_session *s);
#endif
