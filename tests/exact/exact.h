/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_exact: shared declarations. */
#pragma once

#include <glib.h>
#include <sys/types.h>

/*
 * Take a core of the stopped process pid with `gdb -batch -p PID -ex
 * 'gcore FILE'` (FILE in dir) and compare every page file of snap with the
 * core's bytes at its address, where a PT_LOAD segment holds file data for
 * the whole page. Checks that gdb leaves the process stopped. Fails the
 * current test on a difference; the counts go to test messages.
 */
void gcore_check(pid_t pid, const char *snap, const char *dir, const char *gdb);

/*
 * Fail the current test with a message that also goes to the log as
 * "FAIL: ...": GLib keeps only the last g_test_fail_printf() text for the
 * result line, and an earlier reason (an rsync round that failed) is
 * often the cause of a later one (a snapshot that is not exact).
 */
void exact_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/*
 * The pack form of the loop (packcheck.c): a directory on tmpfs for BASE
 * (NULL if /dev/shm is not a tmpfs); `APPLY -p LAST/pack BASE`, its exit
 * code (its stderr to the log); and the check after the last round that
 * BASE holds exactly the page files of SNAP/ and zeros elsewhere.
 */
char *pack_base_dir(void);
int pack_apply(const char *apply, const char *last, const char *base);
void pack_check(const char *base, const char *snap);
