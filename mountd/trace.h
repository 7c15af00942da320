/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * With -d, one debug line per request: its operation, inode, the
 * caller's pid, its result and how long it took, so that a user can see
 * what a tool did to the mount. Every reply of an error goes through
 * sdfs_reply_errno() (or sdfs_reply_err(), req.h), which records it.
 */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

/* Around one operation, on the thread serving it. */
void sdfs_trace_begin(fuse_req_t req, const char *op, fuse_ino_t ino);
void sdfs_trace_end(void);

/* fuse_reply_err(req, err), recorded as the request's result. */
int sdfs_reply_errno(fuse_req_t req, int err);
