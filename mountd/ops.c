/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operation table. */
#include <errno.h>

#include "ops.h"
#include "trace.h"

static void sdfs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct sdfs_mount *m = userdata;

	/* `echo 1 > clear` opens with O_TRUNC: take it in open */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* READDIRPLUS only where its entries may be cached (ops.h) */
	if (!m->cache_last)
		conn->want &= ~(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
}

/* Operations that would change the tree: EPERM (sdfs(5)). */
static void forbid(fuse_req_t req, const char *op, fuse_ino_t ino)
{
	sdfs_trace_begin(req, op, ino);
	sdfs_reply_errno(req, EPERM);
	sdfs_trace_end();
}

static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
		     dev_t d)
{
	forbid(req, "mknod", p);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m)
{
	forbid(req, "mkdir", p);
}

static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n)
{
	forbid(req, "unlink", p);
}

static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
		      struct fuse_file_info *fi)
{
	forbid(req, "create", p);
}

static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n,
		      fuse_ino_t np, const char *nn, unsigned int flags)
{
	forbid(req, "rename", p);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t np,
		    const char *nn)
{
	forbid(req, "link", ino);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t p,
		       const char *n)
{
	forbid(req, "symlink", p);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	forbid(req, "setxattr", ino);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	forbid(req, "removexattr", ino);
}

/* ---- every operation traced (trace.h) ---------------------------------- */

#define TRACED(op, ino, call)                                                  \
	do {                                                                   \
		sdfs_trace_begin(req, op, ino);                                \
		call;                                                          \
		sdfs_trace_end();                                              \
	} while (0)

static void t_lookup(fuse_req_t req, fuse_ino_t p, const char *n)
{
	TRACED("lookup", p, sdfs_op_lookup(req, p, n));
}

static void t_getattr(fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi)
{
	TRACED("getattr", i, sdfs_op_getattr(req, i, fi));
}

static void t_setattr(fuse_req_t req, fuse_ino_t i, struct stat *a, int s,
		      struct fuse_file_info *fi)
{
	TRACED("setattr", i, sdfs_op_setattr(req, i, a, s, fi));
}

static void t_opendir(fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi)
{
	TRACED("opendir", i, sdfs_op_opendir(req, i, fi));
}

static void t_readdir(fuse_req_t req, fuse_ino_t i, size_t sz, off_t off,
		      struct fuse_file_info *fi)
{
	TRACED("readdir", i, sdfs_op_readdir(req, i, sz, off, fi));
}

static void t_readdirplus(fuse_req_t req, fuse_ino_t i, size_t sz, off_t off,
			  struct fuse_file_info *fi)
{
	TRACED("readdirplus", i, sdfs_op_readdirplus(req, i, sz, off, fi));
}

static void t_releasedir(fuse_req_t req, fuse_ino_t i,
			 struct fuse_file_info *fi)
{
	TRACED("releasedir", i, sdfs_op_releasedir(req, i, fi));
}

static void t_open(fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi)
{
	TRACED("open", i, sdfs_op_open(req, i, fi));
}

static void t_read(fuse_req_t req, fuse_ino_t i, size_t sz, off_t off,
		   struct fuse_file_info *fi)
{
	TRACED("read", i, sdfs_op_read(req, i, sz, off, fi));
}

static void t_write(fuse_req_t req, fuse_ino_t i, const char *buf, size_t sz,
		    off_t off, struct fuse_file_info *fi)
{
	TRACED("write", i, sdfs_op_write(req, i, buf, sz, off, fi));
}

static void t_release(fuse_req_t req, fuse_ino_t i, struct fuse_file_info *fi)
{
	TRACED("release", i, sdfs_op_release(req, i, fi));
}

static void t_lseek(fuse_req_t req, fuse_ino_t i, off_t off, int whence,
		    struct fuse_file_info *fi)
{
	TRACED("lseek", i, sdfs_op_lseek(req, i, off, whence, fi));
}

const struct fuse_lowlevel_ops sdfs_ops = {
	.init = sdfs_op_init,
	.lookup = t_lookup,
	.getattr = t_getattr,
	.setattr = t_setattr,
	.opendir = t_opendir,
	.readdir = t_readdir,
	.readdirplus = t_readdirplus,
	.releasedir = t_releasedir,
	.open = t_open,
	.read = t_read,
	.write = t_write,
	.release = t_release,
	.lseek = t_lseek,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.create = op_create,
	.rename = op_rename,
	.link = op_link,
	.symlink = op_symlink,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
};
