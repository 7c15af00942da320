/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cleanup attributes for what glib 2.74 (Debian bookworm) has none for:
 * file descriptors (g_autofd came with 2.76). The engine's own types
 * have g_autoptr / g_auto through G_DEFINE_*_CLEANUP_* in their headers.
 */
#pragma once

#include <unistd.h>

static inline void sdfs_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

/* An fd closed when it goes out of scope (unless taken with sdfs_take_fd). */
#define sdfs_autofd __attribute__((cleanup(sdfs_closep)))

/* Take fd out of the variable's care: it is not closed at scope exit. */
static inline int sdfs_take_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
