/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "clearparse.h"

/* The longest write to clear that can be valid: "1\n" or "4\n". */
#define CLEAR_MAX 2

bool sdfs_clear_request_valid(const char *buf, size_t size)
{
	if (size == 0 || size > CLEAR_MAX)
		return false;
	if (buf[0] != '1' && buf[0] != '4')
		return false;
	return size == 1 || buf[1] == '\n';
}
