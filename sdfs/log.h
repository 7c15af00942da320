/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's log: one line per event, to stderr in the foreground, else
 * to syslog. Warnings (anything unexpected) are always written; debug
 * lines (one per request, with -d) only when asked for.
 */
#pragma once

#include <stdbool.h>

enum sdfs_log_level {
	SDFS_LOG_WARNING, /* something unexpected failed: always logged */
	SDFS_LOG_DEBUG,	  /* what a request did: with -d */
};

/* to_stderr: foreground; level: the most verbose level written. */
void sdfs_log_init(bool to_stderr, enum sdfs_log_level level);
/* Whether lines of this level are written (to skip preparing them). */
bool sdfs_log_enabled(enum sdfs_log_level level);
void sdfs_log_at(enum sdfs_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A warning. */
#define sdfs_log(...) sdfs_log_at(SDFS_LOG_WARNING, __VA_ARGS__)
