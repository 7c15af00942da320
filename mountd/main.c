/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sdfs daemon: options, --probe, mount, session loop. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "ops.h"

struct sdfs_cfg {
	char *backend;
	int nofreeze;
	int allow_other; /* allow_other or allow_root given */
	char *pos[3];
	int npos;
};

static const struct fuse_opt sdfs_opts[] = {
	{"backend=%s", offsetof(struct sdfs_cfg, backend), 0},
	{"nofreeze", offsetof(struct sdfs_cfg, nofreeze), 1},
	/* noted, and kept for libfuse */
	{"allow_other", offsetof(struct sdfs_cfg, allow_other), 1},
	{"allow_root", offsetof(struct sdfs_cfg, allow_other), 1},
	FUSE_OPT_KEY("allow_other", FUSE_OPT_KEY_KEEP),
	FUSE_OPT_KEY("allow_root", FUSE_OPT_KEY_KEEP),
	FUSE_OPT_END,
};

static void usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-o OPTION[,OPTION...]] MOUNTPOINT\n"
	       "       %s SOURCE MOUNTPOINT [-o OPTIONS]\n"
	       "       %s --help | --version | --probe\n"
	       "\n"
	       "Shows which pages of every process's memory were written since\n"
	       "a chosen moment, and what they hold. See sdfs(8), sdfs(5).\n"
	       "\n"
	       "sdfs options:\n"
	       "    -o backend=auto|soft-dirty|uffd  how writes are tracked (default auto)\n"
	       "    -o nofreeze            do not stop the target during a clear\n"
	       "    --probe                report which backends work on this kernel\n"
	       "\n"
	       "FUSE options:\n",
	       prog, prog, prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

static int probe(void)
{
	const struct sdfs_backend *all[] = {&sdfs_backend_softdirty,
					    &sdfs_backend_uffd};
	char reason[256], why[600];

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		reason[0] = '\0';
		int r = all[i]->probe(reason, sizeof(reason));
		printf("%s: %s (%s)\n", all[i]->name, r == 0 ? "yes" : "no",
		       reason);
	}
	const struct sdfs_backend *b = sdfs_backend_select("auto", why, sizeof(why));
	printf("auto: %s\n", b ? b->name : "none");
	return 0;
}

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct sdfs_cfg *cfg = data;

	if (key == FUSE_OPT_KEY_NONOPT) {
		if (cfg->npos == 3)
			return -1;
		cfg->pos[cfg->npos++] = strdup(arg);
		return 0; /* the mount point is added back below */
	}
	return 1;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "sdfs: ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The arguments after the informational ones: sdfs's options into cfg,
 * the rest (with the fsname and the mount point) into args and opts.
 * 0, or -1 (said why). */
static int parse_args(struct fuse_args *args, struct sdfs_cfg *cfg,
		      struct fuse_cmdline_opts *opts)
{
	static const char *too_many = "too many arguments (usage: sdfs "
				      "[SOURCE] MOUNTPOINT [-o OPTIONS])";

	if (fuse_opt_parse(args, cfg, sdfs_opts, opt_proc) < 0 ||
	    cfg->npos > 2) {
		fail("%s", too_many);
		return -1;
	}
	if (cfg->npos == 0) {
		fail("%s", "missing mount point (see sdfs --help)");
		return -1;
	}
	/* mount.fuse3 runs "sdfs SOURCE MOUNTPOINT -o OPTS" */
	const char *source = cfg->npos == 2 ? cfg->pos[0] : "sdfs";
	const char *mountpoint = cfg->pos[cfg->npos - 1];
	char fsname[300];
	if (strchr(source, ',')) {
		fail("bad source name '%s'", source);
		return -1;
	}
	snprintf(fsname, sizeof(fsname), "-ofsname=%s,subtype=sdfs", source);
	fuse_opt_add_arg(args, fsname);
	fuse_opt_add_arg(args, mountpoint);
	if (fuse_parse_cmdline(args, opts) != 0)
		return -1;
	if (!opts->mountpoint) {
		fail("%s", "missing mount point (see sdfs --help)");
		return -1;
	}
	struct stat st;
	if (stat(opts->mountpoint, &st) < 0) {
		fail("mount point %s: %s", opts->mountpoint, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fail("mount point %s is not a directory", opts->mountpoint);
		return -1;
	}
	return 0;
}

/* The session loop, as the FUSE options asked; its result. */
static int run_loop(struct fuse_session *se,
		    const struct fuse_cmdline_opts *opts)
{
	if (opts->singlethread)
		return fuse_session_loop(se);
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, opts->clone_fd);
	/* libfuse leaves max_threads at UINT_MAX when not given */
	if (opts->max_threads > 0 && opts->max_threads <= 100000)
		fuse_loop_cfg_set_max_threads(lc, opts->max_threads);
	if (opts->max_idle_threads != UINT_MAX) /* UINT_MAX: not given */
		fuse_loop_cfg_set_idle_threads(lc, opts->max_idle_threads);
	int ret = fuse_session_loop_mt(se, lc);
	fuse_loop_cfg_destroy(lc);
	return ret;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct sdfs_cfg cfg = {0};
	struct fuse_cmdline_opts opts = {0};
	struct fuse_session *se = NULL;
	struct sdfs_mount mnt = {0};
	char reason[600];
	int ret = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--probe"))
			return probe();
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(argv[0]);
			return 0;
		}
		if (!strcmp(argv[i], "--version") || !strcmp(argv[i], "-V")) {
			printf("sdfs %s\n", SDFS_VERSION);
			return 0;
		}
	}
	if (parse_args(&args, &cfg, &opts) < 0)
		goto out;
	const struct sdfs_backend *b =
		sdfs_backend_select(cfg.backend ? cfg.backend : "auto", reason,
				    sizeof(reason));
	if (!b) {
		fail("%s", reason);
		goto out;
	}
	/*
	 * Rendered texts and snapshots are large and short-lived: give them
	 * back to the system when freed, instead of letting glibc's dynamic
	 * threshold keep them in the heap (daemon RSS, tests/bench).
	 */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	mnt.page_size = sdfs_page_size();
	mnt.cache_last = !cfg.allow_other && !opts.singlethread;
	struct sdfs_engine_opts eo = {.backend = b, .nofreeze = cfg.nofreeze};
	mnt.engine = sdfs_engine_new(&eo);

	se = fuse_session_new(&args, &sdfs_ops, sizeof(sdfs_ops), &mnt);
	if (!se)
		goto out;
	mnt.se = se;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	sdfs_log_init(opts.foreground,
		      opts.debug ? SDFS_LOG_DEBUG : SDFS_LOG_WARNING);
	fuse_daemonize(opts.foreground);
	/* threads do not survive the fork of daemonizing */
	sdfs_engine_start(mnt.engine);
	ret = run_loop(se, &opts) ? 1 : 0;
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	sdfs_handles_free_all();
	sdfs_engine_free(mnt.engine);
	free(opts.mountpoint);
	free(cfg.backend);
	for (int i = 0; i < cfg.npos; i++)
		free(cfg.pos[i]);
	fuse_opt_free_args(&args);
	return ret;
}
