/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The direct baselines: what a minimal C program does with the same kernel
 * interfaces sdfs uses, without FUSE. Written independently of libsdfs so
 * that the comparison measures sdfs, not shared code.
 *
 * - dirty_ranges: parse /proc/PID/maps, then for each trackable mapping
 *   either PAGEMAP_SCAN (ranges from the kernel) or pread of pagemap
 *   (one u64 per page, 64 KiB per call), and print the same lines.
 * - clear: PAGEMAP_SCAN with PM_SCAN_WP_MATCHING, or clear_refs "4".
 * - page contents: process_vm_readv, one page per call or batched.
 *
 * PAGEMAP_SCAN and walk_end: the kernel fills at most 512 regions per
 * internal walk; when a walk stops on that bounce buffer and the next one
 * reaches the end, walk_end keeps the first stop address (seen on 6.18:
 * vec_len 4096, 2621 regions returned, walk_end short of the last one).
 * Resuming from walk_end then reports ranges twice. A call that returns
 * fewer regions than vec_len has walked to the end, so stop there.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench.h"
#include "bench_compat.h"

struct dvma {
	uint64_t start, end;
	char perms[5];
	const char *path; /* into the maps text, NUL-terminated */
};

struct dmaps {
	struct dvma *v;
	size_t n;
	char *text;
};

static int read_all(const char *path, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*ret = buf;
	if (ret_len)
		*ret_len = len;
	return 0;
}

static void dmaps_free(struct dmaps *m)
{
	free(m->v);
	free(m->text);
	memset(m, 0, sizeof(*m));
}

/* "start-end perms offset dev inode   path" */
static int dmaps_read(pid_t pid, struct dmaps *m)
{
	char path[64];
	size_t cap = 64;

	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	int r = read_all(path, &m->text, NULL);
	if (r < 0)
		return r;
	m->v = malloc(cap * sizeof(*m->v));
	for (char *line = m->text; *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		struct dvma v = {0};
		int pos = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %*s %*s %*s %n",
			   &v.start, &v.end, v.perms, &pos) < 3) {
			dmaps_free(m);
			return -EINVAL;
		}
		v.path = pos ? line + pos : line + strlen(line);
		if (m->n == cap) {
			cap *= 2;
			m->v = realloc(m->v, cap * sizeof(*m->v));
		}
		m->v[m->n++] = v;
		if (!nl)
			break;
		line = nl + 1;
	}
	return 0;
}

static bool trackable(const struct dvma *v)
{
	if (!strcmp(v->path, "[vvar]") || !strcmp(v->path, "[vvar_vclock]") ||
	    !strcmp(v->path, "[vsyscall]"))
		return false;
	/* device mappings, as sdfs decides them from maps */
	if (!strncmp(v->path, "/dev/", 5) && strncmp(v->path, "/dev/shm/", 9) &&
	    strncmp(v->path, "/dev/zero", 9))
		return false;
	return true;
}

static void put_range(struct sbuf *out, const struct dvma *v, uint64_t s,
		      uint64_t e, size_t ps)
{
	sbuf_reserve(out, 64 + strlen(v->path));
	out->len += (size_t)sprintf(out->p + out->len,
				    "%016" PRIx64 "-%016" PRIx64 " %" PRIu64 " %s%s%s\n",
				    s, e, (e - s) / ps, v->perms,
				    v->path[0] ? " " : "", v->path);
}

static int open_pagemap(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* last/changes form: the 16-digit hex address of every page, one a line
 * (formatted by hand, as sdfs does: printf per page would be the bulk of
 * the baseline's time) */
static void put_names(struct sbuf *out, uint64_t s, uint64_t e, size_t ps)
{
	static const char hex[] = "0123456789abcdef";

	sbuf_reserve(out, (size_t)((e - s) / ps) * 17);
	for (uint64_t a = s; a < e; a += ps) {
		char *p = out->p + out->len;
		uint64_t x = a;
		for (int i = 15; i >= 0; i--, x >>= 4)
			p[i] = hex[x & 0xf];
		p[16] = '\n';
		out->len += 17;
	}
}

static int scan_ioctl(pid_t pid, enum dirty_bit bit, size_t vec_len, bool names,
		      struct sbuf *out, uint64_t *pages);

int direct_scan_ioctl(pid_t pid, enum dirty_bit bit, size_t vec_len,
		      struct sbuf *out, uint64_t *pages)
{
	return scan_ioctl(pid, bit, vec_len, false, out, pages);
}

int direct_names_ioctl(pid_t pid, enum dirty_bit bit, size_t vec_len,
		       struct sbuf *out, uint64_t *pages)
{
	return scan_ioctl(pid, bit, vec_len, true, out, pages);
}

static void put_run(struct sbuf *out, const struct dvma *v, uint64_t s,
		    uint64_t e, size_t ps, bool names)
{
	if (names)
		put_names(out, s, e, ps);
	else
		put_range(out, v, s, e, ps);
}

static int scan_ioctl(pid_t pid, enum dirty_bit bit, size_t vec_len, bool names,
		      struct sbuf *out, uint64_t *pages)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	struct dmaps m;
	uint64_t cat = bit == BIT_WRITTEN ? PAGE_IS_WRITTEN : PAGE_IS_SOFT_DIRTY;

	out->len = 0;
	*pages = 0;
	int r = dmaps_read(pid, &m);
	if (r < 0)
		return r;
	int fd = open_pagemap(pid);
	if (fd < 0) {
		dmaps_free(&m);
		return fd;
	}
	struct page_region *vec = malloc(vec_len * sizeof(*vec));
	for (size_t i = 0; i < m.n && r == 0; i++) {
		const struct dvma *v = &m.v[i];
		if (!trackable(v))
			continue;
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.start = v->start,
			.end = v->end,
			.vec = (uintptr_t)vec,
			.vec_len = vec_len,
			.category_inverted = PAGE_IS_PFNZERO,
			.category_mask = PAGE_IS_PFNZERO | cat,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = cat,
		};
		uint64_t rs = 0, re = 0; /* pending run: adjacent regions merge */
		while (a.start < a.end) {
			long n = ioctl(fd, PAGEMAP_SCAN, &a);
			if (n < 0) {
				r = -errno;
				break;
			}
			for (long k = 0; k < n; k++) {
				if (vec[k].start == re) {
					re = vec[k].end;
					continue;
				}
				if (re > rs) {
					put_run(out, v, rs, re, ps, names);
					*pages += (re - rs) / ps;
				}
				rs = vec[k].start;
				re = vec[k].end;
			}
			if ((size_t)n < vec_len)
				break; /* the walk reached the end: see below */
			if (a.walk_end <= a.start)
				break;
			a.start = a.walk_end;
		}
		if (re > rs) {
			put_run(out, v, rs, re, ps, names);
			*pages += (re - rs) / ps;
		}
	}
	free(vec);
	close(fd);
	dmaps_free(&m);
	return r;
}

/* PFN of the shared zero page, to drop it as sdfs does (root sees PFNs). */
static uint64_t zero_pfn(void)
{
	static uint64_t pfn = UINT64_MAX;
	if (pfn != UINT64_MAX)
		return pfn;
	pfn = 0;
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	volatile char *p = mmap(NULL, ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (p != MAP_FAILED && fd >= 0) {
		uint64_t e;
		(void)p[0];
		if (pread(fd, &e, 8, (off_t)((uintptr_t)p / ps * 8)) == 8 &&
		    (e & PM_PRESENT))
			pfn = e & PM_PFN_MASK;
	}
	if (fd >= 0)
		close(fd);
	return pfn;
}

#define PREAD_ENTRIES 8192

int direct_scan_pread(pid_t pid, enum dirty_bit bit, struct sbuf *out,
		      uint64_t *pages)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	uint64_t zpfn = zero_pfn();
	static uint64_t buf[PREAD_ENTRIES];
	struct dmaps m;

	out->len = 0;
	*pages = 0;
	int r = dmaps_read(pid, &m);
	if (r < 0)
		return r;
	int fd = open_pagemap(pid);
	if (fd < 0) {
		dmaps_free(&m);
		return fd;
	}
	for (size_t i = 0; i < m.n && r == 0; i++) {
		const struct dvma *v = &m.v[i];
		if (!trackable(v))
			continue;
		uint64_t rs = 0, re = 0;
		for (uint64_t addr = v->start; addr < v->end;) {
			size_t want = (size_t)((v->end - addr) / ps);
			if (want > PREAD_ENTRIES)
				want = PREAD_ENTRIES;
			ssize_t got = pread(fd, buf, want * 8, (off_t)(addr / ps * 8));
			if (got <= 0) {
				r = got < 0 ? -errno : -ESRCH;
				break;
			}
			size_t n = (size_t)got / 8;
			for (size_t k = 0; k < n; k++) {
				uint64_t e = buf[k];
				if (!(e & (PM_PRESENT | PM_SWAP)))
					continue;
				if (bit == BIT_WRITTEN ? (e & PM_UFFD_WP)
						       : !(e & PM_SOFT_DIRTY))
					continue;
				if ((e & PM_PRESENT) && zpfn &&
				    (e & PM_PFN_MASK) == zpfn)
					continue;
				uint64_t a = addr + k * ps;
				if (a == re) {
					re = a + ps;
					continue;
				}
				if (re > rs) {
					put_range(out, v, rs, re, ps);
					*pages += (re - rs) / ps;
				}
				rs = a;
				re = a + ps;
			}
			addr += n * ps;
		}
		if (re > rs) {
			put_range(out, v, rs, re, ps);
			*pages += (re - rs) / ps;
		}
	}
	close(fd);
	dmaps_free(&m);
	return r;
}

int direct_wp_matching(pid_t pid, size_t vec_len, uint64_t *pages)
{
	size_t ps = (size_t)sysconf(_SC_PAGESIZE);
	struct dmaps m;

	*pages = 0;
	int r = dmaps_read(pid, &m);
	if (r < 0)
		return r;
	int fd = open_pagemap(pid);
	if (fd < 0) {
		dmaps_free(&m);
		return fd;
	}
	struct page_region *vec = malloc(vec_len * sizeof(*vec));
	for (size_t i = 0; i < m.n && r == 0; i++) {
		const struct dvma *v = &m.v[i];
		if (!trackable(v))
			continue;
		struct pm_scan_arg a = {
			.size = sizeof(a),
			.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
			.start = v->start,
			.end = v->end,
			.vec = (uintptr_t)vec,
			.vec_len = vec_len,
			.category_inverted = PAGE_IS_PFNZERO,
			.category_mask = PAGE_IS_PFNZERO | PAGE_IS_WRITTEN,
			.category_anyof_mask = PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
			.return_mask = PAGE_IS_WRITTEN,
		};
		while (a.start < a.end) {
			long n = ioctl(fd, PAGEMAP_SCAN, &a);
			if (n < 0 && errno == EPERM &&
			    (a.flags & PM_SCAN_WP_MATCHING)) {
				/* not registered with a uffd: capture only */
				a.flags = 0;
				continue;
			}
			if (n < 0) {
				r = -errno;
				break;
			}
			for (long k = 0; k < n; k++)
				*pages += (vec[k].end - vec[k].start) / ps;
			if ((size_t)n < vec_len)
				break;
			if (a.walk_end <= a.start)
				break;
			a.start = a.walk_end;
		}
	}
	free(vec);
	close(fd);
	dmaps_free(&m);
	return r;
}

int direct_clear_refs(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/clear_refs", (int)pid);
	return write_file(path, "4");
}

/* ---- page lists and contents ------------------------------------------ */

int runs_parse(const char *text, size_t len, size_t ps, struct runs *out)
{
	size_t cap = 1024;
	memset(out, 0, sizeof(*out));
	out->se = malloc(cap * 2 * sizeof(uint64_t));
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		/* "START-END PAGES PERMS[ PATH]"; no sscanf: it strlen()s the
		 * whole remaining text on every call */
		char *q;
		uint64_t s = strtoull(p, &q, 16), e = 0;
		const char *perms = "";
		if (*q == '-') {
			e = strtoull(q + 1, &q, 16);
			if (*q == ' ')
				strtoull(q + 1, &q, 10);
			if (*q == ' ')
				perms = q + 1;
		}
		if (!perms[0] || e <= s) {
			runs_free(out);
			return -EINVAL;
		}
		if (perms[0] != 'r') {
			/* process_vm_readv cannot read it (sdfs goes through
			 * /proc/PID/mem); the baselines leave it out */
			out->skipped += (e - s) / ps;
			goto next;
		}
		if (out->n == cap) {
			cap *= 2;
			out->se = realloc(out->se, cap * 2 * sizeof(uint64_t));
		}
		out->se[2 * out->n] = s;
		out->se[2 * out->n + 1] = e;
		out->n++;
		out->pages += (e - s) / ps;
next:
		if (!nl)
			break;
		p = nl + 1;
	}
	return 0;
}

void runs_free(struct runs *r)
{
	free(r->se);
	memset(r, 0, sizeof(*r));
}

#define BATCH_PAGES 1024 /* IOV_MAX */

int pvread_pages(pid_t pid, const struct runs *r, size_t ps, bool batched,
		 uint64_t *bytes)
{
	static char *buf;
	static struct iovec riov[BATCH_PAGES];
	if (!buf)
		buf = malloc(BATCH_PAGES * 4096 > ps * BATCH_PAGES ? BATCH_PAGES * 4096
								: ps * BATCH_PAGES);
	*bytes = 0;
	struct iovec liov = {.iov_base = buf};
	size_t nr = 0, inbuf = 0;

	for (size_t i = 0; i < r->n; i++) {
		for (uint64_t a = r->se[2 * i]; a < r->se[2 * i + 1]; a += ps) {
			if (!batched) {
				liov.iov_len = ps;
				struct iovec one = {.iov_base = (void *)(uintptr_t)a,
						    .iov_len = ps};
				if (process_vm_readv(pid, &liov, 1, &one, 1, 0) != (ssize_t)ps)
					return -errno;
				*bytes += ps;
				continue;
			}
			/* one remote iovec per page, as a page list gives them
			 * (adjacent pages merge: the kernel walks them anyway) */
			if (nr && (uintptr_t)riov[nr - 1].iov_base +
					  riov[nr - 1].iov_len == a)
				riov[nr - 1].iov_len += ps;
			else
				riov[nr++] = (struct iovec){
					.iov_base = (void *)(uintptr_t)a, .iov_len = ps};
			inbuf += ps;
			if (nr == BATCH_PAGES || inbuf == BATCH_PAGES * ps) {
				liov.iov_len = inbuf;
				if (process_vm_readv(pid, &liov, 1, riov, nr, 0) !=
				    (ssize_t)inbuf)
					return -errno;
				*bytes += inbuf;
				nr = inbuf = 0;
			}
		}
	}
	if (batched && nr) {
		liov.iov_len = inbuf;
		if (process_vm_readv(pid, &liov, 1, riov, nr, 0) != (ssize_t)inbuf)
			return -errno;
		*bytes += inbuf;
	}
	return 0;
}
