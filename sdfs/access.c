/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-request credentials (docs/design.md; sdfs(8) SECURITY). The raw setres*id/setgroups
 * system calls change only the calling thread (glibc's wrappers change
 * every thread of the process, which would be wrong here). The saved uid
 * stays 0, so the thread can switch back; while it runs as the caller its
 * effective capabilities are gone, and the kernel's ptrace rules,
 * dumpability, Yama and LSMs decide as they would for the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "proc.h"
#include "access.h"
#include "log.h"

static int sys_setresuid(uid_t r, uid_t e, uid_t s)
{
	return syscall(SYS_setresuid, r, e, s) < 0 ? -errno : 0;
}

static int sys_setresgid(gid_t r, gid_t e, gid_t s)
{
	return syscall(SYS_setresgid, r, e, s) < 0 ? -errno : 0;
}

static int sys_setgroups(int n, const gid_t *g)
{
	return syscall(SYS_setgroups, (size_t)n, g) < 0 ? -errno : 0;
}

int sdfs_caller_allowed(const struct sdfs_caller *c)
{
	/* callers outside our pid namespace arrive as pid 0: never trust */
	if (c->pid <= 0)
		return -EACCES;
	/* a mount of an ordinary user serves that user only */
	uid_t me = geteuid();
	if (me != 0 && c->uid != me)
		return -EACCES;
	return 0;
}

int sdfs_cred_enter(const struct sdfs_caller *c, struct sdfs_cred_saved *s)
{
	memset(s, 0, sizeof(*s));
	int r = sdfs_caller_allowed(c);
	if (r < 0)
		return r;
	if (geteuid() != 0)
		return 0;
	if (c->uid == 0 && c->gid == 0)
		return 0; /* root in our namespace: nothing to switch */

	s->uid = 0;
	s->gid = getegid();
	int n = getgroups(0, NULL);
	if (n > 0) {
		s->groups = calloc((size_t)n, sizeof(gid_t));
		if (!s->groups)
			return -ENOMEM;
		s->ngroups = getgroups(n, s->groups);
		if (s->ngroups < 0)
			s->ngroups = 0;
	}
	r = sys_setgroups(c->ngroups > 0 ? c->ngroups : 0, c->groups);
	if (!r)
		r = sys_setresgid(c->gid, c->gid, s->gid);
	if (!r)
		r = sys_setresuid(c->uid, c->uid, 0);
	if (r < 0) {
		s->switched = true;
		sdfs_cred_leave(s);
		sdfs_log("cannot switch to uid %u: %s", (unsigned)c->uid,
			 strerror(-r));
		return -EACCES;
	}
	s->switched = true;
	return 0;
}

void sdfs_cred_leave(struct sdfs_cred_saved *s)
{
	if (s->switched) {
		/* the order matters: back to uid 0 first, then the rest */
		if (sys_setresuid(0, 0, 0) < 0 ||
		    sys_setresgid(s->gid, s->gid, s->gid) < 0 ||
		    sys_setgroups(s->ngroups, s->groups) < 0) {
			/* a worker thread stuck with another user's
			 * credentials must not serve anything else */
			sdfs_log("cannot restore credentials: aborting");
			abort();
		}
	}
	free(s->groups);
	memset(s, 0, sizeof(*s));
}

int sdfs_access_check(pid_t pid, enum sdfs_access_mode mode)
{
	/* the kernel checks PTRACE_MODE_READ to open pagemap and
	 * PTRACE_MODE_ATTACH to open mem, with our current credentials */
	sdfs_autofd int fd = sdfs_proc_open(
		pid, mode == SDFS_ACCESS_ATTACH ? "mem" : "pagemap", O_RDONLY);
	if (fd == -ESRCH || sdfs_err_resource(fd))
		return fd;
	return fd < 0 ? -EACCES : 0;
}
