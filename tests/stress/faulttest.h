/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_faulttest: shared declarations. */
#pragma once

#include "harness.h" /* mounts, targets, helpers: tests/lib */

/* Skip (TRUE) unless $SDFS_BACKEND is usable and the helpers are set. */
gboolean ft_skip_unless_ready(void);
/* Wait (bounded) until no "sdfs-inject" process remains; reap ours. */
void ft_wait_injectors(void);
/* The target is running and well: not dead, no thread stopped, its
 * writers made progress over ~200 ms, nothing changed its memory. */
void ft_assert_target_healthy(Workload *t);

/* A thread writing "1" to clear files in a loop, counting results. */
#include <pthread.h>
#include <stdatomic.h>
typedef struct {
	char *paths[8];
	int npaths;
	gboolean stop_on_error;
	_Atomic int stop;
	_Atomic uint64_t ok;
	_Atomic uint64_t errs[140];
	pthread_t th;
} ClearLoop;
void cl_start(ClearLoop *cl, char **paths, int n, gboolean stop_on_error);
void cl_stop(ClearLoop *cl);
/* The errnos seen that are not in allowed[], as text; NULL if none. */
char *cl_errors(const ClearLoop *cl, const int *allowed, int nallowed);

void ft_register_life(void);
void ft_register_kill(void);
void ft_register_limits(void);
