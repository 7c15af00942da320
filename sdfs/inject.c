/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include "inject.h"

int sdfs_inject_syscall(pid_t pid, long nr, const long args[6], long *ret)
{
	return -ENOTSUP;
}
