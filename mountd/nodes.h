/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The node table: one row per kind of node in the tree, saying
 * everything lookup, readdir, getattr, access checks and open need to
 * know about it. Adding a file to the tree is one row here (nodes.c) and
 * the class that makes its content.
 */
#pragma once

#include <sys/stat.h>

#include "ops.h"

struct sdfs_req;
struct sdfs_file;
struct sdfs_dir;
struct sdfs_dirbuf;

/* How a regular file's content is made. */
struct sdfs_file_class {
	/* At open, as the caller, with r->tracker set: prepare f (f->len
	 * for text made here). 0 or -errno. */
	int (*open)(struct sdfs_req *r, struct sdfs_file *f);
	/* Up to size bytes at off into buf: the count, or -errno. Runs with
	 * the daemon's credentials; a class that touches the process enters
	 * the caller's itself (sdfs_req_enter). */
	ssize_t (*read)(fuse_req_t req, struct sdfs_file *f, char *buf,
			size_t size, off_t off);
	/* Writable files only: act on a write of buf. 0 or -errno. */
	int (*write)(fuse_req_t req, struct sdfs_file *f, const char *buf,
		     size_t size);
	/* SEEK_DATA / SEEK_HOLE at off: 0 and *ret, or -errno (NULL: the
	 * whole file is data, ops_file.c) */
	int (*lseek)(struct sdfs_file *f, off_t off, int whence, uint64_t *ret);
	/* the content is made at open: st_size means nothing */
	bool direct_io;
	/* open leaves the whole file in f->priv (f->len bytes, its st_size):
	 * the daemon stores it in the kernel's page cache before it answers
	 * the open, and reads are served from there (ops_file.c) */
	bool stored;
};

/* How a directory's entries are found and listed. */
struct sdfs_dir_class {
	/* At opendir, as the caller (r->id set unless root). 0 or -errno. */
	int (*open)(struct sdfs_req *r, struct sdfs_dir *d);
	/* A child by name (NULL: the fixed children of the table). Fills
	 * child and, if the child's mtime is not now, *ts. As the caller. */
	int (*lookup)(struct sdfs_req *r, const char *name,
		      struct sdfs_node *child, struct timespec *ts);
	/* Entries from offset off on (NULL: the fixed children). */
	int (*fill)(fuse_req_t req, struct sdfs_dirbuf *b, struct sdfs_dir *d,
		    off_t off);
};

struct sdfs_kind_info {
	const char *name; /* fixed name in parent; NULL: named by pid or address */
	enum sdfs_kind parent;
	mode_t mode; /* S_IFDIR | 0555, S_IFREG | 0444, ... */
	enum sdfs_access_mode access; /* what a caller needs (sdfs(5)) */
	/* attributes may be cached by the kernel (SDFS_LAST_CACHE_S) */
	bool cache;
	/* After the common attributes are filled: check the node still
	 * exists and adjust st (size, mtime). open_file: through an open
	 * file (fstat). As the caller, r->tracker set (ops_dir.c gets it
	 * for the hook). 0 or -errno. */
	int (*attr)(struct sdfs_req *r, bool open_file, struct stat *st);
	const struct sdfs_file_class *file; /* regular files */
	const struct sdfs_dir_class *dir;   /* directories */
};

/* The row of kind k (NULL for kinds no node has). */
const struct sdfs_kind_info *sdfs_kind(enum sdfs_kind k);

/* The classes the table refers to (ops_dir.c, file_*.c). */
extern const struct sdfs_dir_class sdfs_dir_root, sdfs_dir_fixed,
	sdfs_dir_pages, sdfs_dir_last_pages;
extern const struct sdfs_file_class sdfs_file_clear, sdfs_file_status,
	sdfs_file_dirty, sdfs_file_last_dirty, sdfs_file_last_dropped,
	sdfs_file_last_changes, sdfs_file_last_maps, sdfs_file_page,
	sdfs_file_last_page, sdfs_file_last_image, sdfs_file_last_pack;
int sdfs_last_page_attr(struct sdfs_req *r, bool open_file, struct stat *st);
int sdfs_last_changes_attr(struct sdfs_req *r, bool open_file,
			   struct stat *st);
int sdfs_last_image_attr(struct sdfs_req *r, bool open_file, struct stat *st);
int sdfs_last_pack_attr(struct sdfs_req *r, bool open_file, struct stat *st);
