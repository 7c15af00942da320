/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>

#include "render.h"

void sdfs_render_range(struct sdfs_text *out, uint64_t start, uint64_t end,
		       const char *perms, const char *path)
{
	uint64_t pages = (end - start) / sdfs_page_size();

	sdfs_text_printf(out, "%016" PRIx64 "-%016" PRIx64 " %" PRIu64
				    " %s",
			       start, end, pages, perms);
	if (path && *path) {
		sdfs_text_append_len(out, " ", 1);
		sdfs_text_append(out, path);
	}
	sdfs_text_append_len(out, "\n", 1);
}

void sdfs_render_dirtyset(struct sdfs_text *out, const struct sdfs_dirtyset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sdfs_run *r = &s->runs[i];
		const struct sdfs_vma_info *v = &s->vmas[r->vma];
		sdfs_render_range(out, r->start, r->end, v->perms, v->path);
	}
}

int sdfs_render_run_fn(void *text, const struct sdfs_vma *vma,
		       uint64_t start, uint64_t end)
{
	struct sdfs_text *t = text;

	sdfs_render_range(t, start, end, vma->perms, vma->path);
	return t->failed ? -ENOMEM : 0;
}

void sdfs_render_status(struct sdfs_text *out, const struct sdfs_tracker_info *i,
			uint64_t dirty_pages)
{
	sdfs_text_printf(out, "pid: %d\n", (int)i->pid);
	sdfs_text_printf(out, "backend: %s\n", i->backend);
	sdfs_text_printf(out, "epoch: %" PRIu64 "\n", i->epoch);
	if (i->cleared_at.tv_sec || i->cleared_at.tv_nsec)
		sdfs_text_printf(out, "cleared_at: %lld.%09ld\n",
				       (long long)i->cleared_at.tv_sec,
				       (long)i->cleared_at.tv_nsec);
	else
		sdfs_text_append(out, "cleared_at: 0\n");
	sdfs_text_printf(out, "frozen_us: %" PRIu64 "\n", i->frozen_us);
	sdfs_text_printf(out, "dirty_pages: %" PRIu64 "\n", dirty_pages);
	sdfs_text_printf(out, "last_pages: %" PRIu64 "\n", i->last_pages);
}
