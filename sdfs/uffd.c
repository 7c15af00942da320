/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include "backend.h"

static int uffd_probe(char *reason, size_t len)
{
	snprintf(reason, len, "not available yet");
	return -ENOTSUP;
}

const struct sdfs_backend sdfs_backend_uffd = {
	.name = "uffd",
	.probe = uffd_probe,
};
