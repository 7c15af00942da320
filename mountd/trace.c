/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>
#include <time.h>

#include "log.h"
#include "trace.h"

/* The request this thread serves (operations never hand replies over
 * to other threads). */
static __thread struct {
	const char *op; /* NULL: not tracing */
	fuse_ino_t ino;
	pid_t pid;
	int err;
	struct timespec t0;
} cur;

void sdfs_trace_begin(fuse_req_t req, const char *op, fuse_ino_t ino)
{
	if (!sdfs_log_enabled(SDFS_LOG_DEBUG))
		return;
	cur.op = op;
	cur.ino = ino;
	cur.pid = fuse_req_ctx(req)->pid;
	cur.err = 0;
	clock_gettime(CLOCK_MONOTONIC, &cur.t0);
}

void sdfs_trace_end(void)
{
	struct timespec t1;

	if (!cur.op)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long long us = (t1.tv_sec - cur.t0.tv_sec) * 1000000LL +
		       (t1.tv_nsec - cur.t0.tv_nsec) / 1000;
	const char *res = cur.err ? strerrorname_np(cur.err) : "ok";
	sdfs_log_at(SDFS_LOG_DEBUG, "%s ino %#llx pid %d: %s (%lld us)",
		    cur.op, (unsigned long long)cur.ino, (int)cur.pid,
		    res ? res : "error", us);
	cur.op = NULL;
}

int sdfs_reply_errno(fuse_req_t req, int err)
{
	cur.err = err;
	return fuse_reply_err(req, err);
}
