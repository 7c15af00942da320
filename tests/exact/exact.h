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
