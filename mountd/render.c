/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "render.h"

void sdfs_render_range(GString *out, uint64_t start, uint64_t end,
		       const char *perms, const char *path)
{
	uint64_t pages = (end - start) / sdfs_page_size();

	g_string_append_printf(out, "%016" PRIx64 "-%016" PRIx64 " %" PRIu64
				    " %s",
			       start, end, pages, perms);
	if (path && *path) {
		g_string_append_c(out, ' ');
		g_string_append(out, path);
	}
	g_string_append_c(out, '\n');
}

void sdfs_render_dirtyset(GString *out, const struct sdfs_dirtyset *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct sdfs_run *r = &s->runs[i];
		const struct sdfs_vma_info *v = &s->vmas[r->vma];
		sdfs_render_range(out, r->start, r->end, v->perms, v->path);
	}
}

int sdfs_render_run_fn(void *gstring, const struct sdfs_vma *vma,
		       uint64_t start, uint64_t end)
{
	sdfs_render_range(gstring, start, end, vma->perms, vma->path);
	return 0;
}

void sdfs_render_status(GString *out, const struct sdfs_tracker_info *i,
			uint64_t dirty_pages)
{
	g_string_append_printf(out, "pid: %d\n", (int)i->pid);
	g_string_append_printf(out, "backend: %s\n", i->backend);
	g_string_append_printf(out, "epoch: %" PRIu64 "\n", i->epoch);
	if (i->cleared_at.tv_sec || i->cleared_at.tv_nsec)
		g_string_append_printf(out, "cleared_at: %lld.%09ld\n",
				       (long long)i->cleared_at.tv_sec,
				       (long)i->cleared_at.tv_nsec);
	else
		g_string_append(out, "cleared_at: 0\n");
	g_string_append_printf(out, "frozen_us: %" PRIu64 "\n", i->frozen_us);
	g_string_append_printf(out, "dirty_pages: %" PRIu64 "\n", dirty_pages);
	g_string_append_printf(out, "last_pages: %" PRIu64 "\n", i->last_pages);
}
