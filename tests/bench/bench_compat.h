/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Kernel interfaces the benchmark needs beyond the build headers: the
 * project's compat header (PAGEMAP_SCAN, WP_ASYNC) plus a few more. */
#pragma once

#include <stdbool.h>

#include "compat.h"

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
