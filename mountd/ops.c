/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The operation table. */
#include <errno.h>

#include "ops.h"

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

static void sdfs_op_forbidden(fuse_req_t req)
{
	fuse_reply_err(req, EPERM);
}

static void op_mknod(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
		     dev_t d)
{
	sdfs_op_forbidden(req);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m)
{
	sdfs_op_forbidden(req);
}

static void op_unlink(fuse_req_t req, fuse_ino_t p, const char *n)
{
	sdfs_op_forbidden(req);
}

static void op_create(fuse_req_t req, fuse_ino_t p, const char *n, mode_t m,
		      struct fuse_file_info *fi)
{
	sdfs_op_forbidden(req);
}

static void op_rename(fuse_req_t req, fuse_ino_t p, const char *n,
		      fuse_ino_t np, const char *nn, unsigned int flags)
{
	sdfs_op_forbidden(req);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t np,
		    const char *nn)
{
	sdfs_op_forbidden(req);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t p,
		       const char *n)
{
	sdfs_op_forbidden(req);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	sdfs_op_forbidden(req);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	sdfs_op_forbidden(req);
}

const struct fuse_lowlevel_ops sdfs_ops = {
	.init = sdfs_op_init,
	.lookup = sdfs_op_lookup,
	.getattr = sdfs_op_getattr,
	.setattr = sdfs_op_setattr,
	.opendir = sdfs_op_opendir,
	.readdir = sdfs_op_readdir,
	.readdirplus = sdfs_op_readdirplus,
	.releasedir = sdfs_op_releasedir,
	.open = sdfs_op_open,
	.read = sdfs_op_read,
	.write = sdfs_op_write,
	.release = sdfs_op_release,
	.lseek = sdfs_op_lseek,
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
