/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What a write to PID/clear may say (sdfs(5): clear). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Exactly "1" or "4", optionally followed by one newline. */
bool sdfs_clear_request_valid(const char *buf, size_t size);
