/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include "log.h"

static bool use_stderr = true;
static enum sdfs_log_level max_level = SDFS_LOG_WARNING;

void sdfs_log_init(bool to_stderr, enum sdfs_log_level level)
{
	use_stderr = to_stderr;
	max_level = level;
	if (!to_stderr)
		openlog("sdfs", LOG_PID, LOG_DAEMON);
}

bool sdfs_log_enabled(enum sdfs_log_level level)
{
	return level <= max_level;
}

void sdfs_log_at(enum sdfs_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (!sdfs_log_enabled(level))
		return;
	va_start(ap, fmt);
	if (use_stderr) {
		char line[1024];
		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "sdfs: %s\n", line);
	} else {
		vsyslog(level == SDFS_LOG_DEBUG ? LOG_DEBUG : LOG_WARNING, fmt,
			ap);
	}
	va_end(ap);
}
