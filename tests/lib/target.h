/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The driver of target processes: a program started with its stdin and
 * stdout on pipes to us (and PR_SET_PDEATHSIG), which first says "ready
 * PID" -- sdfs_stress_target says "ready PID ADDR PAGES" -- and then
 * answers each command line with one line, "ok [VALUES]" or "err
 * MESSAGE": sdfs_workload (tests/integration), sdfs_sectarget
 * (tests/security), sdfs_stress_target (tests/stress), sdfs_churn
 * (tests/exact), and the interpreters of tests/exact. Started processes
 * are registered with the safety net of testlib.h.
 *
 * The wl_ calls that return nothing to check assert (g_error on a target
 * that does not answer within its timeout, or says "err"); wl_spawn_argv,
 * wl_start_stress, wl_call and wl_wait never assert (for threads and
 * programs outside GTest).
 */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct {
	pid_t pid;
	int to, from;	/* its stdin; its stdout */
	int timeout_ms; /* for one reply line */
	char buf[4096];
	size_t len;
	/* sdfs_stress_target: its tag (wl_start_stress) and region (from
	 * the ready line) */
	uint32_t tag;
	uint64_t addr;
	size_t npages;
} Workload;

typedef struct {
	uid_t uid;		  /* run as uid, no groups (0: as we are) */
	void (*in_child)(void *); /* runs in the child just before exec */
	void *ctx;
	int timeout_ms; /* for one reply line (0: 30 s) */
} WlOpts;

/* Start argv[0] with argv (NULL-ended) as o says (NULL: defaults) and
 * read its ready line: NULL and *err (to g_free) if it did not say it. */
Workload *wl_spawn_argv(const char *const *argv, const WlOpts *o, char **err);
/* The same for bin [arg]; asserts. */
Workload *wl_spawn(const char *bin, const char *arg, const WlOpts *o);
/* sdfs_workload ($SDFS_WORKLOAD); asserts. */
Workload *wl_start(void);
/* sdfs_stress_target ($SDFS_STRESS_TARGET) TAG PAGES THREADS PAUSE_US,
 * 10 s per reply; NULL (and a message on stderr) if it did not start. */
Workload *wl_start_stress(uint32_t tag, size_t npages, int threads,
			  unsigned pause_us);

/* Send a command; its reply line (to g_free), or NULL if none came. */
char *wl_call(Workload *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* wl_call; asserts that a reply came. */
char *wl_try(Workload *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Send a command; assert the reply is "ok ..."; return what follows "ok". */
char *wl_cmd(Workload *w, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3) G_GNUC_WARN_UNUSED_RESULT;
/* wl_cmd for a command whose reply text is not needed. */
void wl_do(Workload *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* wl_cmd, reply parsed as one page-aligned hex address. */
guint64 wl_addr(Workload *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Read one line (e.g. "ready PID" after exec); asserts. */
char *wl_read_line(Workload *w);

/* SIGKILL (if running) and reap; frees w (NULL: nothing). */
void wl_kill(Workload *w);
/* Reap without killing (after "exit"; SIGKILL after 5 s); frees w.
 * Returns the wait status. */
int wl_wait(Workload *w);
