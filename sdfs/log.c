/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

static bool use_stderr = true;

void sdfs_log_init(bool to_stderr)
{
	use_stderr = to_stderr;
	if (!to_stderr)
		openlog("sdfs", LOG_PID, LOG_DAEMON);
}

void sdfs_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (use_stderr) {
		char line[1024];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "sdfs: %s\n", line);
	} else {
		vsyslog(LOG_WARNING, fmt, ap);
	}
	va_end(ap);
}
