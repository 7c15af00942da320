/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sdfs_stress: the churning target (stress-churn.c). */
#pragma once

#include <stdint.h>

#include "harness.h"

/* Start sdfs_churn ($SDFS_CHURN) and the thread taking snapshot rounds
 * of it on mount m. FALSE: not started (a reason or ERROR printed). */
gboolean sc_start(const Mount *m);
/* Stop the rounds and the target, take the last round, check the
 * snapshot; kill the target. The number of errors found. */
uint64_t sc_finish(void);
/* For the watchdog: the target's pid and what the churn's rounds (or
 * their end) have been doing for longer than limit_s; 0 if nothing. */
pid_t sc_stuck(double limit_s, char *what, size_t n);
