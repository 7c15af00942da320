/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * nullfs: the FUSE floor. A low-level libfuse file system with one flat
 * directory of N files of one page each, whose content is a constant: it
 * does no work at all per request, so reading its files cat-style
 * measures what FUSE itself costs per file (request round trips, context
 * switches) on this machine, with the same session loop as sdfs.
 *
 *   nullfs [-o cached|noopen] [-d] -f MOUNTPOINT N
 *
 * Default: sdfs's settings for page files (entry/attr timeout 0,
 * direct_io). -o cached: entry/attr timeout 60 s, readdirplus entries,
 * page-cache reads (dropped at every open: one READ per open).
 * -o noopen: cached, and OPEN is refused with ENOSYS, which a kernel
 * with FUSE_NO_OPEN_SUPPORT takes for success on every later open of a
 * regular file: no OPEN and no RELEASE round trip at all (the page cache
 * is then kept from open to open). The fewest round trips FUSE allows
 * per file: a READ on the first open, nothing after it. A kernel
 * without it would fail every open: then nullfs says so on stderr and
 * opens as -o cached does.
 */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <limits.h>
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct nullfs {
	unsigned long n;
	int cached;
	int noopen; /* -o noopen asked for it */
	int no_open; /* and the kernel supports it */
	size_t ps;
	char *page;
};

static struct nullfs nf;

#define FILE_INO(i) ((fuse_ino_t)(i) + 2)

static void file_attr(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_size = (off_t)nf.ps;
	}
}

static double tmo(void)
{
	return nf.cached ? 60.0 : 0.0;
}

static void nf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	char *end;
	unsigned long i = strtoul(name, &end, 16);

	if (parent != FUSE_ROOT_ID || *end || i >= nf.n) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = FILE_INO(i);
	e.attr_timeout = e.entry_timeout = tmo();
	file_attr(e.ino, &e.attr);
	fuse_reply_entry(req, &e);
}

static void nf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	file_attr(ino, &st);
	fuse_reply_attr(req, &st, tmo());
}

static void nf_readdir_any(fuse_req_t req, size_t size, off_t off, int plus)
{
	char *buf = malloc(size);
	size_t used = 0;

	for (unsigned long i = (unsigned long)off; i < nf.n; i++) {
		char name[17];
		struct fuse_entry_param e;
		size_t need;
		snprintf(name, sizeof(name), "%016lx", i);
		memset(&e, 0, sizeof(e));
		e.ino = FILE_INO(i);
		e.attr_timeout = e.entry_timeout = tmo();
		file_attr(e.ino, &e.attr);
		if (plus)
			need = fuse_add_direntry_plus(req, buf + used, size - used, name,
						      &e, (off_t)i + 1);
		else
			need = fuse_add_direntry(req, buf + used, size - used, name,
						 &e.attr, (off_t)i + 1);
		if (used + need > size)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void nf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	nf_readdir_any(req, size, off, 0);
}

static void nf_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	nf_readdir_any(req, size, off, 1);
}

static void nf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* libfuse answers success for a NULL .open: ENOSYS must be said */
	if (nf.no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->direct_io = !nf.cached;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

static void nf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	if ((size_t)off >= nf.ps) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > nf.ps - (size_t)off)
		size = nf.ps - (size_t)off;
	fuse_reply_buf(req, nf.page + off, size);
}

static void nf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void nf_init(void *ud, struct fuse_conn_info *conn)
{
	if (nf.cached)
		conn->want |= FUSE_CAP_READDIRPLUS;
	else
		conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS;
	/* a capability only: nothing to ask for in want */
	nf.no_open = nf.noopen && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
	if (nf.noopen && !nf.no_open)
		fprintf(stderr, "nullfs: the kernel has no FUSE_NO_OPEN_SUPPORT: "
				"opening files as -o cached\n");
}

static const struct fuse_lowlevel_ops ops = {
	.init = nf_init,
	.lookup = nf_lookup,
	.getattr = nf_getattr,
	.readdir = nf_readdir,
	.readdirplus = nf_readdirplus,
	.open = nf_open,
	.read = nf_read,
	.release = nf_release,
};

int main(int argc, char **argv)
{
	const char *mp = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);

	fuse_opt_add_arg(&args, argv[0]);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc &&
		    (!strcmp(argv[i + 1], "cached") || !strcmp(argv[i + 1], "noopen"))) {
			nf.cached = 1;
			nf.noopen = !strcmp(argv[i + 1], "noopen");
			i++;
		} else if (!strcmp(argv[i], "-f")) {
			continue;
		} else if (!strcmp(argv[i], "-d")) {
			fuse_opt_add_arg(&args, "-d"); /* one line per request */
		} else if (!mp) {
			mp = argv[i];
		} else {
			nf.n = strtoul(argv[i], NULL, 10);
		}
	}
	if (!mp || !nf.n) {
		fprintf(stderr, "usage: nullfs [-o cached|noopen] [-d] -f MOUNTPOINT N\n");
		return 2;
	}
	nf.ps = (size_t)sysconf(_SC_PAGESIZE);
	nf.page = calloc(1, nf.ps);
	memset(nf.page, 'x', nf.ps);
	fuse_opt_add_arg(&args, "-ofsname=nullfs,subtype=nullfs");

	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) || fuse_session_mount(se, mp))
		return 1;
	/* the loop settings sdfs gets from fuse_parse_cmdline's defaults;
	 * fuse_loop_cfg_create's own defaults start a thread per request */
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_max_threads(lc, 10);
	fuse_loop_cfg_set_idle_threads(lc, UINT_MAX);
	int r = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	return r ? 1 : 0;
}
