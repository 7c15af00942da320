/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared declarations of the sdfs integration suite (sdfs_itest). */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

#include "pattern.h"
#include "testlib.h"

/* ---- environment and probe (itest-main.c) ---- */

extern size_t itest_ps;		       /* system page size */
extern const char *itest_bin;	       /* $SDFS_BIN */
extern const char *itest_workload_bin; /* $SDFS_WORKLOAD */
extern const char *itest_backend;      /* $SDFS_BACKEND, default "auto" */

/*
 * TRUE if `backend` ("auto", "soft-dirty", "uffd") is usable according to
 * `$SDFS_BIN --probe`; else FALSE and *reason (g_free) says why.
 */
gboolean itest_backend_usable(const char *backend, char **reason);
/* The name of the backend `backend` resolves to ("auto" -> probe result). */
const char *itest_backend_effective(const char *backend);

/* ---- safety net: everything started is killed/unmounted at exit ----
 * tl_track_pid() and tl_untrack_pid() of tests/lib/testlib.h */

/* ---- mounts (itest-main.c) ---- */

typedef struct {
	char *mnt;     /* realpath of the mount point */
	char *backend; /* the backend= option given */
	char *log;     /* the daemon's stderr */
	pid_t daemon;
	int slot; /* safety-net slot */
} Mount;

/* Start `$SDFS_BIN -f -o backend=BACKEND MNT` and wait for the mount. */
void mount_start(Mount *m, const char *backend);
/* Unmount, stop and reap the daemon; fails the test if it had died. */
void mount_stop(Mount *m);
/* The fstype of the top mount on mnt (/proc/self/mountinfo), or NULL. */
char *mount_fstype(const char *mnt);
/* Print the daemon's log as test messages. */
void mount_dump_log(const Mount *m);

/* ---- workloads (itest-helpers.c) ---- */

typedef struct {
	pid_t pid;
	int to, from;
	char buf[4096];
	size_t len;
} Workload;

Workload *wl_start(void);
/* Start bin [arg] (a program speaking the workload protocol: "ready PID"
 * first); in_child(ctx), if given, runs in the child just before exec. */
Workload *wl_spawn(const char *bin, const char *arg,
		   void (*in_child)(void *), void *ctx);
/* Send a command; assert the reply is "ok ..."; return what follows "ok". */
char *wl_cmd(Workload *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3)
	G_GNUC_WARN_UNUSED_RESULT;
/* wl_cmd for a command whose reply text is not needed. */
void wl_do(Workload *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Send a command; return the whole reply line. */
char *wl_try(Workload *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* wl_cmd, reply parsed as one hex address. */
guint64 wl_addr(Workload *w, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Read one reply line (e.g. "ready PID" after exec). */
char *wl_read_line(Workload *w);
void wl_kill(Workload *w); /* SIGKILL and reap; frees w */

/* ---- per-test fixture (itest-main.c) ---- */

typedef struct {
	gboolean ok; /* FALSE: setup skipped the test */
	Mount m;
	char *tmp; /* scratch directory (files for file mappings) */
	GPtrArray *workloads;
	GArray *pids; /* other processes to kill at teardown */
	gint64 t0;    /* start of the test body, for timing */
} Fx;

typedef void (*FxFunc)(Fx *fx, gconstpointer data);
/* Register a test that runs with a mount of $SDFS_BACKEND. */
void itest_add(const char *path, FxFunc fn);
/* Register a test that mounts by itself (fx->m unused). */
void itest_add_nomount(const char *path, FxFunc fn);

Workload *fx_workload(Fx *fx); /* started and killed with the fixture */
void fx_kill_later(Fx *fx, pid_t pid);

void itest_register_tree(void);
void itest_register_clear(void);
void itest_register_pages(void);
void itest_register_life(void);
void itest_register_race(void);
void itest_register_snapshot(void);
void itest_register_last(void);
void itest_register_image(void);

/* ---- file system helpers (itest-helpers.c) ---- */

/* MNT/PID[/rel] */
char *fx_path(Fx *fx, pid_t pid, const char *rel);
char *mnt_path(const Mount *m, pid_t pid, const char *rel);
/* Whole file by read(2) until EOF; NULL with errno set on failure. */
char *read_text(const char *path, gsize *len);
/* open(O_WRONLY|O_TRUNC) + write + close: 0 or -errno of the failing call. */
int write_text(const char *path, const char *s, gsize len);
/* Write "1\n" to clear; assert success; return the epoch read back. */
guint64 do_clear(const Mount *m, pid_t pid);
guint64 read_epoch(const Mount *m, pid_t pid);
/* Directory entries except . and .., in readdir order; NULL + errno. */
GPtrArray *list_dir(const char *path);

/* One line of dirty_ranges. */
typedef TlRange Range;

/* Parse and validate the syntax of dirty_ranges text (asserts). */
GArray *ranges_parse(const char *text);
/* Check each range against /proc/PID/maps (workload must be idle). */
void ranges_check_maps(GArray *r, pid_t pid);
/* The lines of `text` whose range intersects [start, end), joined. */
char *ranges_text_in(const char *text, guint64 start, guint64 end);
/* Read MNT/PID/FILE, validate it (against the maps unless it is
 * last/dropped_ranges), return the lines within [start,end). */
char *ranges_read_in(const Mount *m, pid_t pid, const char *file, guint64 start,
		     guint64 end);
/* One expected line: START-END PAGES PERMS[ PATH]\n */
char *rline(guint64 start, guint64 npages, const char *perms, const char *path);
/* Sum of PAGES. */
guint64 ranges_count(GArray *r);
/* Every page address of the ranges, ascending. */
GArray *ranges_pages(GArray *r);

/* Page file name: 16 hex digits. */
char *page_name(guint64 addr);
/* MNT/PID/DIR/ADDR of the page at addr (DIR: pages, last/pages). */
char *page_path(const Mount *m, pid_t pid, const char *dir, guint64 addr);
/* Read a page through sdfs: 0 or -errno. */
int read_page(const char *path, guint8 *buf);
/* Assert buf holds the workload pattern for (byte, idx). */
void assert_pattern(const guint8 *buf, unsigned byte, guint64 idx);
/* Read the target's memory through /proc/PID/mem (asserts). */
void read_mem(pid_t pid, guint64 addr, guint8 *buf, gsize len);

/* Number of leading pages of [addr, addr + n pages) present in RAM or
 * swap according to /proc/PID/pagemap (bits 63, 62). */
guint64 present_run(pid_t pid, guint64 addr, guint64 n);
/* /proc/PID/stat state letter, or 0 if gone. */
char proc_state(pid_t pid);
/* The state letters of every thread of pid, "T T R". */
char *thread_states(pid_t pid);
/* Wait until every thread of pid is in state `st` (bounded; asserts). */
void wait_all_threads_state(pid_t pid, char st);
gboolean all_threads_state(pid_t pid, char st);
/* Parse status into a table key -> value. */
GHashTable *read_status(const Mount *m, pid_t pid);

#define FX_REQUIRE(fx)                                                         \
	do {                                                                   \
		if (!(fx)->ok)                                                 \
			return;                                                \
	} while (0)

#define A(x) ((guint64)(x))
