/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for sdfs/scan.c on this process's own memory (no mount, no
 * other process): which pages count for epoch 0 and as own pages, by
 * both ways of reading pagemap; the zero page; private file pages; uffd-wp
 * markers, which are not pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "compat.h"
#include "proc.h"
#include "scan.h"

static size_t P;

/* The pages of [a, a + n pages) the scan reports, as "0 2 5". */
static char *scan_pages(uint64_t a, size_t n, enum sdfs_scan_need need,
			bool force_pread)
{
	g_auto(SdfsMaps) maps = {0};
	g_auto(SdfsDirtyset) set = {0};
	g_assert_cmpint(sdfs_maps_read(getpid(), &maps), ==, 0);
	int fd = sdfs_pagemap_open(getpid());
	g_assert_cmpint(fd, >=, 0);
	struct sdfs_scan_req req = {.maps = &maps,
				    .from = a,
				    .to = a + n * P,
				    .fn = sdfs_scan_collect_fn,
				    .ctx = &set};
	g_assert_cmpint(sdfs_scan(fd, &req, need, false, force_pread), ==, 0);
	close(fd);
	GString *g = g_string_new(NULL);
	for (size_t i = 0; i < n; i++)
		if (sdfs_dirtyset_contains(&set, a + i * P))
			g_string_append_printf(g, "%s%zu", g->len ? " " : "", i);
	return g_string_free(g, FALSE);
}

/* Both ways of reading pagemap give want (the pread way tells the zero
 * page only with CAP_SYS_ADMIN, which shows PFNs). */
static void check(uint64_t a, size_t n, enum sdfs_scan_need need,
		  const char *want, const char *want_pread_unprivileged)
{
	if (sdfs_have_pagemap_scan()) {
		g_autofree char *got = scan_pages(a, n, need, false);
		g_assert_cmpstr(got, ==, want);
	}
	g_autofree char *got = scan_pages(a, n, need, true);
	g_assert_cmpstr(got, ==, geteuid() == 0 ? want : want_pread_unprivileged);
}

static void test_anon(void)
{
	volatile char *m = mmap(NULL, 8 * P, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_assert_true(m != MAP_FAILED);
	madvise((void *)m, 8 * P, MADV_NOHUGEPAGE);
	m[0] = 1;
	m[2 * P] = 1;
	(void)m[4 * P]; /* the zero page: no data */
	uint64_t a = (uintptr_t)m;
	check(a, 8, SDFS_NEED_NOTHING, "0 2", "0 2 4");
	check(a, 8, SDFS_NEED_OWN, "0 2", "0 2 4");
	/* dropped: no data, no page */
	madvise((void *)m, P, MADV_DONTNEED);
	check(a, 8, SDFS_NEED_OWN, "2", "2 4");
	munmap((void *)m, 8 * P);
}

static void test_private_file(void)
{
	g_autofree char *path = g_build_filename(g_get_tmp_dir(),
						 "sdfs-test-scan-XXXXXX", NULL);
	int fd = g_mkstemp(path);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ftruncate(fd, (off_t)(4 * P)), ==, 0);
	g_assert_cmpint(pwrite(fd, "x", 1, 0), ==, 1);
	volatile char *m = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE,
				MAP_PRIVATE, fd, 0);
	g_assert_true(m != MAP_FAILED);
	unlink(path);
	close(fd);
	madvise((void *)m, 4 * P, MADV_RANDOM); /* no fault-around */
	(void)m[0];	  /* the file's page */
	m[P] = 1;	  /* a private copy */
	uint64_t a = (uintptr_t)m;
	check(a, 4, SDFS_NEED_NOTHING, "0 1", "0 1");
	check(a, 4, SDFS_NEED_OWN, "1", "1");
	/* the copy dropped: the file's page is back, no own page */
	madvise((void *)m + P, P, MADV_DONTNEED);
	(void)m[P];
	check(a, 4, SDFS_NEED_OWN, "", "");
	munmap((void *)m, 4 * P);
}

static void test_shared(void)
{
	volatile char *m = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	g_assert_true(m != MAP_FAILED);
	m[0] = 1;
	m[3 * P] = 1;
	uint64_t a = (uintptr_t)m;
	check(a, 4, SDFS_NEED_OWN, "0 3", "0 3");
	/* shared memory removed: no own page any more */
	g_assert_cmpint(madvise((void *)m, P, MADV_REMOVE), ==, 0);
	check(a, 4, SDFS_NEED_OWN, "3", "3");
	munmap((void *)m, 4 * P);
}

/* pagemap entries of uffd-wp and guard markers are not pages. */
static void test_is_page(void)
{
	const uint64_t marker = PM_SWAP | PM_UFFD_WP | (1ULL << 5) | 0x1f;
	g_assert_false(sdfs_pagemap_is_page(0, false));
	g_assert_true(sdfs_pagemap_is_page(PM_PRESENT, false));
	g_assert_true(sdfs_pagemap_is_page(PM_PRESENT | PM_FILE, true));
	g_assert_false(sdfs_pagemap_is_page(marker, false));
	g_assert_false(sdfs_pagemap_is_page(marker, true));
	/* guard marker (offset 2), no uffd-wp bit */
	g_assert_false(sdfs_pagemap_is_page(PM_SWAP | (2ULL << 5) | 0x1f, false));
	/* a real swap entry: type 0, offset 77; with the uffd-wp bit too */
	g_assert_true(sdfs_pagemap_is_page(PM_SWAP | (77ULL << 5), false));
	g_assert_true(sdfs_pagemap_is_page(PM_SWAP | PM_UFFD_WP | (77ULL << 5),
					   false));
	/* the type hidden (no CAP_SYS_ADMIN): a uffd-wp swap entry of a
	 * shared mapping is a marker; without the bit it is swap */
	g_assert_false(sdfs_pagemap_is_page(PM_SWAP | PM_UFFD_WP, true));
	g_assert_true(sdfs_pagemap_is_page(PM_SWAP, true));
}

/* Real markers: holes of a file mapping write-protected through a
 * userfaultfd of our own; scans never report them. */
static void test_markers(void)
{
	int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | 1);
	struct uffdio_api api = {.api = UFFD_API,
				 .features = UFFD_FEATURE_WP_ASYNC |
					     UFFD_FEATURE_WP_UNPOPULATED};
	if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) < 0) {
		g_test_skip("no userfaultfd with WP_ASYNC and WP_UNPOPULATED "
			    "here: the markers are tested where the uffd "
			    "backend runs (tests/vm)");
		if (uffd >= 0)
			close(uffd);
		return;
	}
	g_autofree char *path = g_build_filename(g_get_tmp_dir(),
						 "sdfs-test-scan-XXXXXX", NULL);
	int fd = g_mkstemp(path);
	g_assert_cmpint(ftruncate(fd, (off_t)(4 * P)), ==, 0);
	volatile char *m = mmap(NULL, 4 * P, PROT_READ | PROT_WRITE,
				MAP_PRIVATE, fd, 0);
	g_assert_true(m != MAP_FAILED);
	unlink(path);
	close(fd);
	madvise((void *)m, 4 * P, MADV_RANDOM);
	m[0] = 1;
	struct uffdio_register reg = {.range = {(uintptr_t)m, 4 * P},
				      .mode = UFFDIO_REGISTER_MODE_WP};
	g_assert_cmpint(ioctl(uffd, UFFDIO_REGISTER, &reg), ==, 0);
	struct uffdio_writeprotect wp = {.range = {(uintptr_t)m, 4 * P},
					 .mode = UFFDIO_WRITEPROTECT_MODE_WP};
	g_assert_cmpint(ioctl(uffd, UFFDIO_WRITEPROTECT, &wp), ==, 0);
	/* pages 1-3 are markers now: pagemap says "swapped" */
	uint64_t e;
	int pm = sdfs_pagemap_open(getpid());
	g_assert_cmpint(pread(pm, &e, 8, (off_t)((uintptr_t)m / P + 1) * 8),
			==, 8);
	close(pm);
	g_assert_true(e & PM_SWAP);
	uint64_t a = (uintptr_t)m;
	check(a, 4, SDFS_NEED_NOTHING, "0", "0");
	check(a, 4, SDFS_NEED_OWN, "0", "0");
	close(uffd);
	munmap((void *)m, 4 * P);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	P = sdfs_page_size();
	g_test_add_func("/scan/anon", test_anon);
	g_test_add_func("/scan/private-file", test_private_file);
	g_test_add_func("/scan/shared", test_shared);
	g_test_add_func("/scan/is-page", test_is_page);
	g_test_add_func("/scan/markers", test_markers);
	return g_test_run();
}
