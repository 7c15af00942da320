/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The harness of the tests that drive real mounts (tests/integration,
 * tests/security, tests/stress, tests/exact), all in tests/lib:
 *   testlib.h  the environment, the backend probe, the safety net
 *   mount.h    mounts: start the daemon, wait, paths, log, stop checked
 *   target.h   target processes: spawn, ready line, commands, kill
 *   files.h    the files of a mount, read and checked
 *   proc.h     a process seen through /proc
 *   pattern.h  the page patterns the targets write
 */
#pragma once

#include "files.h"
#include "mount.h"
#include "pattern.h"
#include "proc.h"
#include "target.h"
#include "testlib.h"
