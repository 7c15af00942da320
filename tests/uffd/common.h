/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the uffd / inject tests: drive tests/uffd/target. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct tgt {
	pid_t pid;
	int pidfd;
	FILE *in;  /* commands to the target */
	FILE *out; /* its answers */
};

/* Start the target (TARGET_PATH); asserts on failure. */
void tgt_start(struct tgt *t);
/* Send one command line, return the answer line (g_free it). */
char *tgt_cmd(struct tgt *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
uint64_t tgt_cmd_hex(struct tgt *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Kill and reap. */
void tgt_stop(struct tgt *t);
/* State letter of /proc/PID/stat (0 if gone). */
char proc_state(pid_t pid);
/* How many of pid's fds are userfaultfds; -1 if its fd directory cannot
 * be read (it is gone). */
int count_uffds(pid_t pid);
/* Wait until the state is one of states (up to 5 s). */
bool wait_state(pid_t pid, const char *states);
