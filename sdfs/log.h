/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One line per unexpected failure: stderr in the foreground, else syslog. */
#pragma once

#include <stdbool.h>

void sdfs_log_init(bool to_stderr);
void sdfs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
