/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_stress: the churning target (stress-churn.c). */
#pragma once

#include <stdint.h>

#include "sutil.h"

/* Start sdfs_churn ($SDFS_CHURN) and the thread taking snapshot rounds
 * of it on mount m. FALSE: not started (a reason or ERROR printed). */
gboolean sc_start(const SMount *m);
/* Stop the rounds and the target, take the last round, check the
 * snapshot; kill the target. The number of errors found. */
uint64_t sc_finish(void);
