/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* FUSE low-level operations of the sdfs daemon. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <glib.h>
#include <stdbool.h>

#include "access.h"
#include "inode.h"
#include "proc.h"
#include "tracker.h"

struct sdfs_mount {
	struct sdfs_engine *engine;
	size_t page_size;
	struct fuse_session *se; /* for notifications to the kernel */
	/* one user can reach the mount (no allow_other/allow_root) and it
	 * is multi-threaded: the kernel may cache last/pages/ entries
	 * (SDFS_LAST_CACHE_S), and READDIRPLUS fills them; a clear
	 * invalidates them before it returns. (Their attributes are cached
	 * on every mount: ops_dir.c.) */
	bool cache_last;
};

#define SDFS_LAST_CACHE_S 1.0

extern const struct fuse_lowlevel_ops sdfs_ops;

/* ---- shared by the operations (req.c, ops_common.c) ---- */

static inline struct sdfs_mount *mnt_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Run the rest of the request as the caller (req.c). */
int sdfs_req_enter(fuse_req_t req, struct sdfs_cred_saved *s);
/* Whether the caller may use this mount at all (requests that touch no
 * process: 0 or -EACCES). */
int sdfs_req_allowed(fuse_req_t req);
/* Identify the process pid and check the caller may access it in mode.
 * 0, -ENOENT (gone or not visible), -EACCES. Call inside enter. */
int sdfs_req_process(struct sdfs_mount *m, pid_t pid,
		     enum sdfs_access_mode mode, struct sdfs_proc_id *id);
/* The tracker of a process (a reference), or -errno. */
int sdfs_req_tracker(struct sdfs_mount *m, const struct sdfs_proc_id *id,
		     struct sdfs_tracker **ret);

/*
 * Open-file and directory handles. fi->fh is a number, never reused,
 * that names the handle in a table: the kernel may send RELEASE while a
 * READ of the same handle is still on its way to a worker or being
 * served (a request abandoned because its caller got a fatal signal).
 * An operation that finds its number gone replies EBADF; one that got
 * there first holds the handle, and the last of the release and the
 * running operations frees it. Unmounting drops RELEASEs still queued:
 * what is left in the table at exit is freed by sdfs_handles_free_all().
 */
struct sdfs_handle {
	uint64_t fh; /* the number in fi->fh */
	int busy; /* operations running on it (handle_lock) */
	bool released; /* RELEASE was served (handle_lock) */
	void (*free_fn)(void *);
};
void sdfs_handle_init(struct sdfs_handle *h, void (*free_fn)(void *));
/* Enter h in the table; returns its number for fi->fh. */
uint64_t sdfs_handle_publish(struct sdfs_handle *h);
/* The handle numbered fh, held for one operation; NULL if released. */
struct sdfs_handle *sdfs_handle_get(uint64_t fh);
void sdfs_handle_drop(struct sdfs_handle *h);
/* RELEASE / RELEASEDIR of the handle numbered fh. */
void sdfs_handle_release(uint64_t fh);
void sdfs_handles_free_all(void);

/* ops_dir.c */
void sdfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void sdfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sdfs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sdfs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi);
void sdfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void sdfs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi);

/* ops_file.c */
void sdfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sdfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		  struct fuse_file_info *fi);
void sdfs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		   size_t size, off_t off, struct fuse_file_info *fi);
void sdfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void sdfs_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		   struct fuse_file_info *fi);
void sdfs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		     int to_set, struct fuse_file_info *fi);
