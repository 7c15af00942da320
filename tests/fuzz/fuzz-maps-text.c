/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz sdfs_maps_parse (a whole /proc/PID/maps text) and sdfs_maps_find,
 * checked against sdfs_maps_parse_line applied line by line. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"

static ssize_t find_linear(const struct sdfs_maps *m, uint64_t addr)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->vmas[i].start <= addr && addr < m->vmas[i].end)
			return (ssize_t)i;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* the text a reader gets is NUL-terminated; parse stops at a NUL */
	char *text = malloc(size + 1);
	CHECK(text);
	memcpy(text, data, size);
	text[size] = '\0';
	size_t tlen = strlen(text);
	/* a pristine copy for the line-by-line oracle */
	char *orig = fuzz_dup_exact((const uint8_t *)text, tlen);

	struct sdfs_maps m;
	int r = sdfs_maps_parse(text, &m); /* takes text */
	CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);

	/* oracle: split at '\n' and parse each line; all must parse and be
	 * ascending and non-overlapping */
	size_t nlines = 0;
	int want = 0;
	uint64_t prev_end = 0;
	for (size_t off = 0; off < tlen;) {
		const char *nl = memchr(orig + off, '\n', tlen - off);
		size_t len = nl ? (size_t)(nl - (orig + off)) : tlen - off;
		struct sdfs_vma v;
		size_t plen;
		if (sdfs_maps_parse_line(orig + off, len, &v, &plen) < 0 ||
		    (nlines && v.start < prev_end)) {
			want = -EINVAL;
			break;
		}
		if (r == 0) {
			CHECK(nlines < m.n);
			const struct sdfs_vma *g = &m.vmas[nlines];
			CHECK(g->start == v.start && g->end == v.end);
			CHECK(g->offset == v.offset && g->inode == v.inode);
			CHECK(g->dev_major == v.dev_major &&
			      g->dev_minor == v.dev_minor);
			CHECK(!memcmp(g->perms, v.perms, sizeof(v.perms)));
			CHECK(g->device == v.device);
			CHECK(strlen(g->path) == plen);
			CHECK(!plen || !memcmp(g->path, v.path, plen));
			/* the path lives in the owned text */
			CHECK(g->path >= m.text &&
			      g->path + plen <= m.text + tlen);
			CHECK(!strchr(g->path, '\n'));
		}
		prev_end = v.end;
		nlines++;
		if (!nl)
			break;
		off += len + 1;
	}
	if (r == -ENOMEM)
		goto out;
	CHECK(r == want);
	if (r < 0)
		goto out;
	CHECK(m.n == nlines);
	CHECK(m.text == text);

	for (size_t i = 0; i < m.n; i++) {
		const struct sdfs_vma *v = &m.vmas[i];
		CHECK(v->start < v->end);
		if (i)
			CHECK(m.vmas[i - 1].end <= v->start);
		CHECK(sdfs_maps_find(&m, v->start) == (ssize_t)i);
		CHECK(sdfs_maps_find(&m, v->end - 1) == (ssize_t)i);
		CHECK(sdfs_maps_find(&m, v->end) == find_linear(&m, v->end));
		if (v->start)
			CHECK(sdfs_maps_find(&m, v->start - 1) ==
			      find_linear(&m, v->start - 1));
		(void)sdfs_vma_trackable(v);
	}
	/* a few addresses taken from the input itself */
	for (size_t off = 0; off + 8 <= size && off < 64; off += 8) {
		uint64_t a;
		memcpy(&a, data + off, 8);
		CHECK(sdfs_maps_find(&m, a) == find_linear(&m, a));
	}
	CHECK(sdfs_maps_find(&m, 0) == find_linear(&m, 0));
	CHECK(sdfs_maps_find(&m, UINT64_MAX) == find_linear(&m, UINT64_MAX));
	sdfs_maps_free(&m);
	CHECK(m.n == 0 && !m.vmas && !m.text);
out:
	free(orig);
	return 0;
}
