/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The command line of the test target programs (sdfs_workload, sdfs_churn,
 * sdfs_stress_target): one line from stdin, read a byte at a time so that
 * nothing past the newline is taken from the pipe. Plain C, like
 * pattern.h: the target programs link nothing but libc.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <unistd.h>

/* The next line into buf (NUL-terminated, cut to len - 1 bytes, the
 * newline dropped): 0, or -1 at end of input or on an error. */
static inline int target_read_line(char *buf, size_t len)
{
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t r = read(STDIN_FILENO, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (c == '\n')
			break;
		if (n + 1 < len)
			buf[n++] = c;
	}
	buf[n] = 0;
	return 0;
}
