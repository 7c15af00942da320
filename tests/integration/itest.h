/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Shared declarations of the sdfs integration suite (sdfs_itest). */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h" /* Mount, Workload, the file helpers: tests/lib */

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
void itest_register_pack(void);

/* An extent of a copy or of last/image: [start, end) (itest-image.c,
 * itest-pack.c). */
typedef struct {
	guint64 start, end;
} Ext;

#define FX_REQUIRE(fx)                                                         \
	do {                                                                   \
		if (!(fx)->ok)                                                 \
			return;                                                \
	} while (0)

#define A(x) ((guint64)(x))
