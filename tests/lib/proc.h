/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A process seen through /proc: states, memory, maps, status. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

/* /proc/PID/stat state letter, or 0 if gone. */
char proc_state(pid_t pid);
/* The state letters of every thread of pid, "T T R" ('?' for a thread
 * whose stat is gone); NULL if pid is gone. */
char *thread_states(pid_t pid);
/* Is every thread of pid in state st? */
gboolean all_threads_state(pid_t pid, char st);
/* Wait until every thread of pid is in state `st` (bounded; asserts). */
void wait_all_threads_state(pid_t pid, char st);
/* Every thread: tid, comm, state, wchan, kernel stack. */
char *proc_dump_threads(pid_t pid);
/* proc_dump_threads of every descendant of root (rsync and its own
 * children, targets), with its command line. */
char *proc_dump_descendants(pid_t root);
/* The pipes among pid's descriptors: " FD=[INODE]...". */
char *proc_pipe_fds(pid_t pid);
/* "VmRSS" -> kB of /proc/PID/status, or -1. */
long proc_status_kb(pid_t pid, const char *key);
/* pids of the processes named `comm` (exactly). */
GArray *proc_find_comm(const char *comm);

/* Read the target's memory through /proc/PID/mem (asserts). */
void read_mem(pid_t pid, guint64 addr, guint8 *buf, gsize len);
/* Number of leading pages of [addr, addr + n pages) present in RAM or
 * swap according to /proc/PID/pagemap (bits 63, 62). */
guint64 present_run(pid_t pid, guint64 addr, guint64 n);

/* The mappings of /proc/PID/maps as TlRange (testlib.h); NULL if gone. */
GArray *maps_read(pid_t pid);
/* Is [s,e) inside one mapping of maps? */
gboolean maps_contain(GArray *maps, uint64_t s, uint64_t e);
