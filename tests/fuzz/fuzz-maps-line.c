/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz sdfs_maps_parse_line: one line of /proc/PID/maps. */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"

static void check_vma(const char *buf, size_t size, const struct sdfs_vma *v,
		      size_t plen)
{
	static const char *const allowed[4] = {"r-", "w-", "x-", "ps"};
	const char *end = buf + size;

	if (size && buf[size - 1] == '\n')
		end--;
	CHECK(v->start < v->end);
	for (int i = 0; i < 4; i++)
		CHECK(v->perms[i] && strchr(allowed[i], v->perms[i]));
	CHECK(v->perms[4] == '\0');
	CHECK(v->dev_major <= 0xfff);
	CHECK(v->dev_minor <= 0xfffff);
	/* the path is a tail of the line, without its newline or the
	 * padding before it */
	CHECK(v->path >= buf && v->path <= end);
	CHECK(v->path + plen == end);
	CHECK(plen == 0 || v->path[0] != ' ');
	CHECK(plen == 0 || v->path[-1] == ' ');
	/* a line starts with the start address */
	CHECK(fuzz_ishex((unsigned char)buf[0]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = fuzz_dup_exact(data, size);
	struct sdfs_vma v;
	size_t plen = 0;

	int r = sdfs_maps_parse_line(buf, size, &v, &plen);
	CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		check_vma(buf, size, &v, plen);

		/* re-print in the kernel's own layout and parse again: the
		 * same fields come back */
		char head[128];
		int hl = snprintf(head, sizeof(head),
				  "%08" PRIx64 "-%08" PRIx64 " %s %08" PRIx64
				  " %02x:%02x %" PRIu64 " ",
				  v.start, v.end, v.perms, v.offset,
				  v.dev_major, v.dev_minor, v.inode);
		CHECK(hl > 0 && (size_t)hl < sizeof(head));
		size_t l2 = (size_t)hl + plen + 1;
		char *line2 = malloc(l2);
		CHECK(line2);
		memcpy(line2, head, (size_t)hl);
		if (plen)
			memcpy(line2 + hl, v.path, plen);
		line2[l2 - 1] = '\n';

		struct sdfs_vma w;
		size_t plen2 = 0;
		CHECK(sdfs_maps_parse_line(line2, l2, &w, &plen2) == 0);
		CHECK(w.start == v.start && w.end == v.end);
		CHECK(w.offset == v.offset && w.inode == v.inode);
		CHECK(w.dev_major == v.dev_major && w.dev_minor == v.dev_minor);
		CHECK(memcmp(w.perms, v.perms, sizeof(v.perms)) == 0);
		CHECK(w.device == v.device);
		CHECK(plen2 == plen);
		CHECK(plen == 0 || memcmp(w.path, v.path, plen) == 0);

		/* trackability depends on the path only (NUL-terminate a
		 * copy of it) */
		char *p = malloc(plen + 1);
		CHECK(p);
		memcpy(p, v.path, plen);
		p[plen] = '\0';
		v.path = p;
		/* the device guess: under /dev/, but not memory */
		bool dev = !strncmp(p, "/dev/", 5) &&
			   strncmp(p, "/dev/zero", 9) &&
			   strncmp(p, "/dev/shm/", 9) &&
			   strncmp(p, "/dev/hugepages/", 15);
		CHECK(v.device == dev);
		bool special = !strcmp(p, "[vvar]") ||
			       !strcmp(p, "[vsyscall]") ||
			       !strcmp(p, "[vvar_vclock]");
		CHECK(sdfs_vma_trackable(&v) == (!dev && !special));
		free(p);
		free(line2);
	}
	free(buf);
	return 0;
}
