/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The prologue every request that touches a process goes through:
 * decode the inode, take the caller's credentials, identify the
 * process, check the caller's access, get the tracker; and the one place
 * that decides which errno the caller sees.
 */
#pragma once

#include "nodes.h"

struct sdfs_req {
	fuse_req_t req;
	struct sdfs_mount *m;
	struct sdfs_node node;
	const struct sdfs_kind_info *info;
	struct sdfs_proc_id id; /* the process (not for the root) */
	struct sdfs_tracker *tracker; /* with SDFS_REQ_TRACKER */
	struct sdfs_cred_saved saved;
	bool entered; /* running as the caller */
};

enum {
	SDFS_REQ_TRACKER = 1 << 0, /* get the process's tracker too */
	/* a process the caller may not see does not exist for it: EACCES
	 * becomes ENOENT (lookups and listings of PID directories) */
	SDFS_REQ_HIDE = 1 << 1,
};

/*
 * Start a request on node n, needing access mode: as the caller, with
 * the process identified and checked (not for the root), and its
 * tracker with SDFS_REQ_TRACKER. 0 or -errno; always end with
 * sdfs_req_end(), also on failure.
 */
int sdfs_req_begin(struct sdfs_req *r, fuse_req_t req,
		   const struct sdfs_node *n, enum sdfs_access_mode mode,
		   unsigned flags);
/* Leave the caller's credentials and drop what begin took. */
void sdfs_req_end(struct sdfs_req *r);

/* Where an error is answered: a name (lookup, open, getattr of a path)
 * or an open file (read, write, fstat). */
enum sdfs_err_at { SDFS_AT_NAME, SDFS_AT_FILE };

/*
 * Reply with errno -err as the caller should see it: a process that is
 * gone is ENOENT for a name (it does not exist any more) and ESRCH for a
 * file opened before (sdfs(5), process life).
 */
void sdfs_reply_err(fuse_req_t req, int err, enum sdfs_err_at at);

/* Attributes of node n of process id (NULL: the root); ts the mtime. */
void sdfs_node_attr(struct sdfs_mount *m, const struct sdfs_node *n,
		    const struct sdfs_proc_id *id, const struct timespec *ts,
		    struct stat *st);

/* How long the kernel may keep the attributes and the entry of n. */
double sdfs_attr_timeout(const struct sdfs_mount *m, const struct sdfs_node *n);
double sdfs_entry_timeout(const struct sdfs_mount *m,
			  const struct sdfs_node *n);
