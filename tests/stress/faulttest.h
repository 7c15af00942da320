/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_faulttest: shared declarations. */
#pragma once

#include "itest.h"
#include "sutil.h"

/* Skip (TRUE) unless $SDFS_BACKEND is usable and the helpers are set. */
gboolean ft_skip_unless_ready(void);
/* Start a mount of $SDFS_BACKEND (asserts). nofile: RLIMIT_NOFILE or 0. */
void ft_mount(SMount *m, rlim_t nofile);
/* Stop it; fail the test if the daemon died or exited non-zero. */
void ft_umount(SMount *m);
/* An itest Mount view of an SMount (for do_clear, read_status, ...). */
Mount ft_im(const SMount *m);
/* Root listing of the mount (makes the daemon reap dead trackers). */
int ft_list_root(const SMount *m);
/* Wait (bounded) until no "sdfs-inject" process remains; reap ours. */
void ft_wait_injectors(void);
/* Lines of MNT/PID/dirty_ranges within [s,e), asserting the format. */
char *ft_ranges_in(const SMount *m, pid_t pid, guint64 s, guint64 e);
/* The target is running and well: not dead, no thread stopped, its
 * writers made progress over ~200 ms, nothing changed its memory. */
void ft_assert_target_healthy(STarget *t);

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
