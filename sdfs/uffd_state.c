/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the uffd backend keeps per process (uffd_priv.h). */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "compat.h"
#include "log.h"
#include "uffd_priv.h"

struct uffd_state *sdfs_uffd_state_new(void)
{
	struct uffd_state *st = g_try_new0(struct uffd_state, 1);
	if (st)
		st->uffd = st->pm_fd = -1;
	return st;
}

void sdfs_uffd_vma_list_free(struct uffd_vma_list *l)
{
	g_free(l->v);
	*l = (struct uffd_vma_list){0};
}

void sdfs_uffd_teardown(struct uffd_state *st)
{
	if (st->uffd >= 0)
		close(st->uffd); /* unregisters everything in the target */
	if (st->pm_fd >= 0)
		close(st->pm_fd);
	st->uffd = st->pm_fd = -1;
	sdfs_uffd_vma_list_free(&st->clean);
	sdfs_uffd_vma_list_free(&st->plain);
}

void sdfs_uffd_state_free(struct uffd_state *st)
{
	if (!st)
		return;
	sdfs_uffd_teardown(st);
	g_free(st);
}

bool sdfs_uffd_mm_alive(const struct uffd_state *st)
{
	uint64_t e;
	return pread(st->pm_fd, &e, sizeof(e), 0) == (ssize_t)sizeof(e);
}

/* The process either exited (the caller's pidfd tells) or exec'd: a new
 * image, all dirty. */
void sdfs_uffd_mm_gone(struct sdfs_target *t, struct uffd_state *st)
{
	if (syscall(SYS_pidfd_send_signal, t->pidfd, 0, NULL, 0) == 0)
		sdfs_log("uffd: pid %d: exec detected; its new image counts "
			 "as dirty until the next clear",
			 (int)t->pid);
	sdfs_uffd_teardown(st);
}

static bool same(const struct uffd_vma_id *c, const struct sdfs_vma *v)
{
	return c->start == v->start && c->end == v->end &&
	       c->offset == v->offset && c->inode == v->inode &&
	       c->dev_major == v->dev_major && c->dev_minor == v->dev_minor;
}

bool sdfs_uffd_vma_in(const struct uffd_vma_list *l, const struct sdfs_vma *v)
{
	for (size_t i = 0; i < l->n; i++)
		if (same(&l->v[i], v))
			return true;
	return false;
}

int sdfs_uffd_vma_add(struct uffd_vma_list *l, const struct sdfs_vma *v)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		struct uffd_vma_id *nv = g_try_realloc_n(l->v, cap, sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = (struct uffd_vma_id){v->start,	  v->end,
					    v->offset,	  v->inode,
					    v->dev_major, v->dev_minor};
	return 0;
}

int sdfs_uffd_wp_range(int uffd, uint64_t start, uint64_t len, bool protect)
{
	struct uffdio_writeprotect wp = {
		.range = {start, len},
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) < 0 ? -errno : 0;
}
