/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for sdfs/proc.c: maps, stat, status, names, identity. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>

#include "proc.h"

#define PF_KTHREAD 0x00200000UL

/* ---------------------------------------------------------------- maps */

/* Parse a line from a private heap copy of exactly strlen(line) bytes (no
 * NUL after it, so an over-read is caught by ASan); returns the result and
 * the path as a new string. */
static int parse_line(const char *line, struct sdfs_vma *v, char **path)
{
	size_t len = strlen(line);
	char *copy = g_malloc(len ? len : 1);
	size_t plen = 12345;

	memcpy(copy, line, len);
	memset(v, 0x5a, sizeof(*v));
	int r = sdfs_maps_parse_line(copy, len, v, &plen);
	if (r == 0) {
		g_assert_true(v->path >= copy && v->path <= copy + len);
		g_assert_cmpuint(plen, <=, (size_t)(copy + len - v->path));
		if (path)
			*path = g_strndup(v->path, plen);
		v->path = NULL; /* points into copy */
	}
	g_free(copy);
	return r;
}

struct good_line {
	const char *line;
	uint64_t start, end, offset, inode;
	unsigned major, minor;
	const char *perms, *path;
	int trackable; /* 1, 0, or -1: not asserted */
};

static const struct good_line good_lines[] = {
	/* anonymous, as 6.x prints it: one space after the inode */
	{"7f2bebb29000-7f2bebb4b000 rw-p 00000000 00:00 0 ", 0x7f2bebb29000,
	 0x7f2bebb4b000, 0, 0, 0, 0, "rw-p", "", 1},
	/* anonymous, with no padding at all */
	{"7f2bebb29000-7f2bebb4b000 rw-p 00000000 00:00 0", 0x7f2bebb29000,
	 0x7f2bebb4b000, 0, 0, 0, 0, "rw-p", "", 1},
	/* anonymous, padded to the path column (older kernels) + newline */
	{"7f2bebb29000-7f2bebb4b000 rw-p 00000000 00:00 0                   "
	 "       \n",
	 0x7f2bebb29000, 0x7f2bebb4b000, 0, 0, 0, 0, "rw-p", "", 1},
	{"55ae8fe34000-55ae8fe55000 rw-p 00000000 00:00 0                   "
	 "       [heap]",
	 0x55ae8fe34000, 0x55ae8fe55000, 0, 0, 0, 0, "rw-p", "[heap]", 1},
	{"7ffc0fabb000-7ffc0fadc000 rw-p 00000000 00:00 0                   "
	 "       [stack]\n",
	 0x7ffc0fabb000, 0x7ffc0fadc000, 0, 0, 0, 0, "rw-p", "[stack]", 1},
	{"7f2bebda1000-7f2bebda3000 r-xp 00000000 00:00 0                   "
	 "       [vdso]",
	 0x7f2bebda1000, 0x7f2bebda3000, 0, 0, 0, 0, "r-xp", "[vdso]", -1},
	{"7f2bebd9b000-7f2bebd9f000 r--p 00000000 00:00 0                   "
	 "       [vvar]",
	 0x7f2bebd9b000, 0x7f2bebd9f000, 0, 0, 0, 0, "r--p", "[vvar]", 0},
	{"7f2bebd9f000-7f2bebda1000 r--p 00000000 00:00 0                   "
	 "       [vvar_vclock]",
	 0x7f2bebd9f000, 0x7f2bebda1000, 0, 0, 0, 0, "r--p", "[vvar_vclock]",
	 0},
	{"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0           "
	 "       [vsyscall]\n",
	 0xffffffffff600000, 0xffffffffff601000, 0, 0, 0, 0, "--xp",
	 "[vsyscall]", 0},
	{"7f0000000000-7f0000021000 rw-p 00000000 00:00 0                   "
	 "       [anon:glibc malloc]",
	 0x7f0000000000, 0x7f0000021000, 0, 0, 0, 0, "rw-p",
	 "[anon:glibc malloc]", 1},
	{"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 [anon:x]",
	 0x7f0000000000, 0x7f0000001000, 0, 0, 0, 0, "rw-p", "[anon:x]", 1},
	{"55ae6a4f3000-55ae6a4f5000 r--p 00000000 fe:00 247134              "
	 "       /usr/bin/cat",
	 0x55ae6a4f3000, 0x55ae6a4f5000, 0, 247134, 0xfe, 0, "r--p",
	 "/usr/bin/cat", 1},
	{"7f2bebbcf000-7f2bebd25000 r-xp 00026000 fd:01 332835              "
	 "       /usr/lib/x86_64-linux-gnu/libc.so.6\n",
	 0x7f2bebbcf000, 0x7f2bebd25000, 0x26000, 332835, 0xfd, 0x01, "r-xp",
	 "/usr/lib/x86_64-linux-gnu/libc.so.6", 1},
	/* a path with spaces, inside and at the end */
	{"7f0000000000-7f0000002000 r--s 00001000 103:02 12                 "
	 "       /tmp/my dir/a b.dat",
	 0x7f0000000000, 0x7f0000002000, 0x1000, 12, 0x103, 0x02, "r--s",
	 "/tmp/my dir/a b.dat", 1},
	{"7f0000000000-7f0000002000 r--s 00000000 08:01 12 /tmp/trailing  ",
	 0x7f0000000000, 0x7f0000002000, 0, 12, 8, 1, "r--s", "/tmp/trailing  ",
	 1},
	{"7f0000000000-7f0000002000 rw-s 00000000 00:05 4321                "
	 "       /tmp/gone (deleted)",
	 0x7f0000000000, 0x7f0000002000, 0, 4321, 0, 5, "rw-s",
	 "/tmp/gone (deleted)", 1},
	{"7f0000000000-7f0000100000 rw-s 00000000 00:1a 7                   "
	 "       /dev/shm/x",
	 0x7f0000000000, 0x7f0000100000, 0, 7, 0, 0x1a, "rw-s", "/dev/shm/x",
	 1},
	{"7f0000000000-7f0000100000 rw-s 00000000 00:01 1025                "
	 "       /dev/zero (deleted)",
	 0x7f0000000000, 0x7f0000100000, 0, 1025, 0, 1, "rw-s",
	 "/dev/zero (deleted)", 1},
	{"7f0000000000-7f0000001000 rw-s 00000000 00:01 2049                "
	 "       /memfd:pool (deleted)",
	 0x7f0000000000, 0x7f0000001000, 0, 2049, 0, 1, "rw-s",
	 "/memfd:pool (deleted)", 1},
	{"7f0000000000-7f0000800000 rw-s 1fff00000 00:05 660                "
	 "       /dev/dri/card0",
	 0x7f0000000000, 0x7f0000800000, 0x1fff00000, 660, 0, 5, "rw-s",
	 "/dev/dri/card0", 0},
	{"7f0000000000-7f0000001000 rw-s 00000000 00:05 9 /dev/fb0",
	 0x7f0000000000, 0x7f0000001000, 0, 9, 0, 5, "rw-s", "/dev/fb0", 0},
	/* 16-digit addresses, every perms letter, a large inode */
	{"0000000000001000-fffffffffffff000 ---s ffffffffffffffff fff:fffff "
	 "18446744073709551615 /x",
	 0x1000, 0xfffffffffffff000, 0xffffffffffffffff,
	 18446744073709551615ULL, 0xfff, 0xfffff, "---s", "/x", 1},
	{"00400000-00401000 rwxp 00000000 00:00 0", 0x400000, 0x401000, 0, 0, 0,
	 0, "rwxp", "", 1},
	/* uppercase hex is accepted */
	{"7F0000000000-7F0000001000 r--p 0000ABCD AB:CD 1 /y", 0x7f0000000000,
	 0x7f0000001000, 0xabcd, 1, 0xab, 0xcd, "r--p", "/y", 1},
	{"0-1 r--p 0 0:0 0", 0, 1, 0, 0, 0, 0, "r--p", "", 1},
	{"7f0000000000-7f0000001000 r--p 00000000 00:00 0 "
	 "anon_inode:[perf_event]",
	 0x7f0000000000, 0x7f0000001000, 0, 0, 0, 0, "r--p",
	 "anon_inode:[perf_event]", 1},
};

static void test_maps_line_good(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(good_lines); i++) {
		const struct good_line *g = &good_lines[i];
		struct sdfs_vma v;
		g_autofree char *path = NULL;

		g_test_message("line %zu: %s", i, g->line);
		g_assert_cmpint(parse_line(g->line, &v, &path), ==, 0);
		g_assert_cmphex(v.start, ==, g->start);
		g_assert_cmphex(v.end, ==, g->end);
		g_assert_cmphex(v.offset, ==, g->offset);
		g_assert_cmpuint(v.inode, ==, g->inode);
		g_assert_cmphex(v.dev_major, ==, g->major);
		g_assert_cmphex(v.dev_minor, ==, g->minor);
		g_assert_cmpstr(v.perms, ==, g->perms);
		g_assert_cmpstr(path, ==, g->path);
		if (g->trackable >= 0) {
			v.path = path;
			g_assert_cmpint(sdfs_vma_trackable(&v), ==,
					g->trackable);
		}
	}
}

static const char *const bad_lines[] = {
	"",
	"\n",
	" 00400000-00401000 r-xp 00000000 08:01 1 /a",
	"00400000",
	"00400000-",
	"00400000-00401000",
	"00400000-00401000 ",
	"00400000-00401000 r-xp",
	"00400000-00401000 r-xp ",
	"00400000-00401000 r-xp 00000000",
	"00400000-00401000 r-xp 00000000 ",
	"00400000-00401000 r-xp 00000000 08",
	"00400000-00401000 r-xp 00000000 08:",
	"00400000-00401000 r-xp 00000000 08:01",
	"00400000-00401000 r-xp 00000000 08:01 ",
	"00400000-00401000 r-xp 00000000 08:01 /a",
	/* bad permission characters */
	"00400000-00401000 R-xp 00000000 08:01 1 /a",
	"00400000-00401000 rwx- 00000000 08:01 1 /a",
	"00400000-00401000 r-xs- 00000000 08:01 1 /a",
	"00400000-00401000 -r-p 00000000 08:01 1 /a",
	"00400000-00401000 r-x 00000000 08:01 1 /a",
	"00400000-00401000 xwrp 00000000 08:01 1 /a",
	"00400000-00401000 rw?p 00000000 08:01 1 /a",
	/* end <= start */
	"00401000-00401000 r-xp 00000000 08:01 1 /a",
	"00402000-00401000 r-xp 00000000 08:01 1 /a",
	"ffffffffffffffff-0000000000000000 r-xp 00000000 08:01 1 /a",
	/* 17 hex digits, overflow */
	"10000000000000000-10000000000001000 r-xp 00000000 08:01 1 /a",
	"00000000000400000-00000000000401000 r-xp 00000000 08:01 1 /a",
	"00400000-00000000000401000 r-xp 00000000 08:01 1 /a",
	"00400000-00401000 r-xp 10000000000000000 08:01 1 /a",
	"00400000-00401000 r-xp 00000000 08:01 18446744073709551616 /a",
	"00400000-00401000 r-xp 00000000 08:01 99999999999999999999999 /a",
	"00400000-00401000 r-xp 00000000 1000:01 1 /a",
	"00400000-00401000 r-xp 00000000 08:100000 1 /a",
	/* non-hex, prefixes, wrong separators */
	"0040g000-00401000 r-xp 00000000 08:01 1 /a",
	"0x400000-0x401000 r-xp 00000000 08:01 1 /a",
	"00400000 00401000 r-xp 00000000 08:01 1 /a",
	"00400000-00401000\tr-xp 00000000 08:01 1 /a",
	"00400000-00401000  r-xp 00000000 08:01 1 /a",
	"00400000-00401000 r-xp 00000000 08-01 1 /a",
	"00400000-00401000 r-xp 0000z000 08:01 1 /a",
	"00400000-00401000 r-xp 00000000 08:01 -1 /a",
	"00400000-00401000 r-xp 00000000 08:01 1a /a",
	"00400000-00401000 r-xp 00000000 08:01 0x1 /a",
	"00400000-00401000 r-xp 00000000 08:01 1\t/a",
	"-00401000 r-xp 00000000 08:01 1 /a",
};

static void test_maps_line_bad(void)
{
	for (size_t i = 0; i < G_N_ELEMENTS(bad_lines); i++) {
		struct sdfs_vma v;

		g_test_message("bad line %zu: '%s'", i, bad_lines[i]);
		g_assert_cmpint(parse_line(bad_lines[i], &v, NULL), ==,
				-EINVAL);
	}
}

/* A NUL byte where a field is expected is rejected, also in perms. */
static void test_maps_line_embedded_nul(void)
{
	static const char line[] =
		"00400000-00401000 r\0xp 00000000 08:01 1 /a";
	struct sdfs_vma v;
	size_t plen;

	g_assert_cmpint(sdfs_maps_parse_line(line, sizeof(line) - 1, &v, &plen),
			==, -EINVAL);
	static const char line2[] =
		"00400000-00401000 r-xp 00000000 08:01 1\0/a";
	g_assert_cmpint(
		sdfs_maps_parse_line(line2, sizeof(line2) - 1, &v, &plen), ==,
		-EINVAL);
}

/* The length bounds the parse: a valid line cut anywhere before the inode
 * is rejected, and text after len is never looked at. */
static void test_maps_line_len_bound(void)
{
	const char *line = "7f2bebbcf000-7f2bebd25000 r-xp 00026000 fd:01 "
			   "332835 /usr/lib/libc.so.6";
	const char *inode = strstr(line, "332835");
	size_t full = strlen(line);
	struct sdfs_vma v;
	size_t plen;

	for (size_t len = 0; len < full; len++) {
		int r = sdfs_maps_parse_line(line, len, &v, &plen);
		if (len <= (size_t)(inode - line))
			g_assert_cmpint(r, ==, -EINVAL);
		else {
			g_assert_cmpint(r, ==, 0);
			g_assert_true(v.path + plen <= line + len);
		}
	}
	/* a newline is only stripped when it is the last byte */
	g_assert_cmpint(sdfs_maps_parse_line("0-1000 r--p 0 0:0 0 /a\n/b", 25,
					     &v, &plen),
			==, 0);
	g_assert_cmpmem(v.path, plen, "/a\n/b", 5);
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	g_assert_nonnull(d);
	return d;
}

static const char maps_text[] =
	"00400000-00401000 r--p 00000000 fe:00 100 /usr/bin/x\n"
	"00401000-00403000 r-xp 00001000 fe:00 100 /usr/bin/x\n"
	"00600000-00601000 rw-p 00000000 00:00 0 \n"
	"7ffc0fabb000-7ffc0fadc000 rw-p 00000000 00:00 0          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  "
	"[vsyscall]\n";

static void test_maps_parse_text(void)
{
	struct sdfs_maps m;

	g_assert_cmpint(sdfs_maps_parse(xstrdup(maps_text), &m), ==, 0);
	g_assert_cmpuint(m.n, ==, 5);
	g_assert_cmphex(m.vmas[0].start, ==, 0x400000);
	g_assert_cmphex(m.vmas[1].start, ==, 0x401000); /* adjacent is fine */
	g_assert_cmpstr(m.vmas[0].path, ==, "/usr/bin/x");
	g_assert_cmpstr(m.vmas[1].path, ==, "/usr/bin/x");
	g_assert_cmpstr(m.vmas[2].path, ==, "");
	g_assert_cmpstr(m.vmas[3].path, ==, "[stack]");
	g_assert_cmpstr(m.vmas[4].path, ==, "[vsyscall]");
	g_assert_cmpstr(m.vmas[1].perms, ==, "r-xp");
	for (size_t i = 0; i < m.n; i++)
		g_assert_true(m.vmas[i].path >= m.text &&
			      m.vmas[i].path < m.text + sizeof(maps_text));
	sdfs_maps_free(&m);
	g_assert_null(m.vmas);
	g_assert_null(m.text);
	g_assert_cmpuint(m.n, ==, 0);
	sdfs_maps_free(&m); /* twice is harmless */

	/* no final newline */
	g_assert_cmpint(sdfs_maps_parse(xstrdup("0-1000 r--p 0 0:0 0 /a\n"
						"1000-2000 r--p 0 0:0 0 /b"),
					&m),
			==, 0);
	g_assert_cmpuint(m.n, ==, 2);
	g_assert_cmpstr(m.vmas[1].path, ==, "/b");
	sdfs_maps_free(&m);

	/* empty maps (a process with no mappings) */
	g_assert_cmpint(sdfs_maps_parse(xstrdup(""), &m), ==, 0);
	g_assert_cmpuint(m.n, ==, 0);
	g_assert_cmpint(sdfs_maps_find(&m, 0), ==, -1);
	sdfs_maps_free(&m);

	/* more lines than the first allocation */
	GString *big = g_string_new(NULL);
	for (int i = 0; i < 1000; i++)
		g_string_append_printf(big, "%x-%x rw-p 00000000 00:00 0 \n",
				       (i * 2 + 1) * 0x1000,
				       (i * 2 + 2) * 0x1000);
	g_assert_cmpint(sdfs_maps_parse(xstrdup(big->str), &m), ==, 0);
	g_assert_cmpuint(m.n, ==, 1000);
	for (size_t i = 0; i < m.n; i++)
		g_assert_cmphex(m.vmas[i].start, ==, (i * 2 + 1) * 0x1000);
	sdfs_maps_free(&m);
	g_string_free(big, TRUE);
}

static void test_maps_parse_bad(void)
{
	static const char *const bad[] = {
		/* out of order */
		"00401000-00402000 r--p 0 0:0 0\n00400000-00401000 r--p 0 0:0 "
		"0\n",
		/* overlapping */
		"00400000-00402000 r--p 0 0:0 0\n00401000-00403000 r--p 0 0:0 "
		"0\n",
		/* duplicate */
		"00400000-00401000 r--p 0 0:0 0\n00400000-00401000 r--p 0 0:0 "
		"0\n",
		/* a bad line in the middle, an empty line, a bad last line */
		("00400000-00401000 r--p 0 0:0 0\nhello\n"
		 "00402000-00403000 r--p 0 0:0 0\n"),
		"00400000-00401000 r--p 0 0:0 0\n\n00402000-00403000 r--p 0 "
		"0:0 0\n",
		"00400000-00401000 r--p 0 0:0 0\n00402000-00403000 r--p 0 0:0",
		"\n",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct sdfs_maps m = {0};
		g_test_message("bad maps %zu", i);
		/* takes ownership of the text also on failure (ASan/LSan
		 * would report a leak or a double free otherwise) */
		g_assert_cmpint(sdfs_maps_parse(xstrdup(bad[i]), &m), ==,
				-EINVAL);
	}
}

static void test_maps_find(void)
{
	struct sdfs_maps m;

	g_assert_cmpint(sdfs_maps_parse(xstrdup(maps_text), &m), ==, 0);
	static const struct {
		uint64_t addr;
		ssize_t idx;
	} cases[] = {
		{0, -1},
		{0x3fffff, -1},
		{0x400000, 0},
		{0x400fff, 0},
		{0x401000, 1}, /* the end of 0 is the start of 1 */
		{0x402fff, 1},
		{0x403000, -1}, /* gap */
		{0x5fffff, -1},
		{0x600000, 2},
		{0x600fff, 2},
		{0x601000, -1},
		{0x7ffc0fabb000, 3},
		{0x7ffc0fadbfff, 3},
		{0x7ffc0fadc000, -1},
		{0xffffffffff5fffff, -1},
		{0xffffffffff600000, 4},
		{0xffffffffff600fff, 4},
		{0xffffffffff601000, -1},
		{UINT64_MAX, -1},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("find %" G_GINT64_MODIFIER "x", cases[i].addr);
		g_assert_cmpint(sdfs_maps_find(&m, cases[i].addr), ==,
				cases[i].idx);
	}
	sdfs_maps_free(&m);

	/* a mapping ending at the top of the address space */
	g_assert_cmpint(
		sdfs_maps_parse(xstrdup("fffffffffffff000-ffffffffffffffff "
					"r--p 0 0:0 0\n"),
				&m),
		==, 0);
	g_assert_cmpint(sdfs_maps_find(&m, 0xfffffffffffff000), ==, 0);
	g_assert_cmpint(sdfs_maps_find(&m, 0xfffffffffffffffe), ==, 0);
	g_assert_cmpint(sdfs_maps_find(&m, UINT64_MAX), ==, -1);
	sdfs_maps_free(&m);
}

/* Trackability, through a parsed line (the parser guesses device
 * mappings from the path; sdfs_maps_read() then checks them). */
static void test_trackable(void)
{
	static const struct {
		const char *path;
		bool ok;
	} cases[] = {
		{"", true},
		{"[heap]", true},
		{"[stack]", true},
		{"[anon:x]", true},
		{"/usr/lib/libc.so.6", true},
		{"/dev/shm/x", true},
		{"/dev/shm/a b (deleted)", true},
		{"/dev/zero", true},
		{"/dev/zero (deleted)", true},
		/* hugetlbfs, mounted there by systemd: ordinary memory */
		{"/dev/hugepages/buf", true},
		{"/dev/hugepages/a b (deleted)", true},
		{"/memfd:x (deleted)", true},
		{"/SYSV00000000 (deleted)", true},
		{"[vvar]", false},
		{"[vvar_vclock]", false},
		{"[vsyscall]", false},
		{"/dev/dri/card0", false},
		{"/dev/dri/renderD128", false},
		{"/dev/mem", false},
		{"/dev/fb0", false},
		{"/dev/sh", false},
		/* only the exact names are special */
		{"[vvar] ", true},
		{"/tmp/[vvar]", true},
		{"/home/dev/x", true},
		{"/tmp/dev/fb0", true},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *line = g_strdup_printf(
			"7f0000000000-7f0000001000 rw-s 00000000 00:05 42 %s\n",
			cases[i].path);
		g_autofree char *path = NULL;
		struct sdfs_vma v;
		g_test_message("trackable '%s'", cases[i].path);
		g_assert_cmpint(parse_line(line, &v, &path), ==, 0);
		g_assert_cmpstr(path, ==, cases[i].path);
		v.path = path;
		g_assert_cmpint(sdfs_vma_trackable(&v), ==, cases[i].ok);
	}
}

/* A regular file under /dev (a tmpfs mounted there, or a stray file) holds
 * data: sdfs_maps_read() must not take it for a device. */
static void test_maps_read_dev_regular_file(void)
{
	size_t ps = sdfs_page_size();
	g_autofree char *path = g_strdup_printf("/dev/sdfs-unit-%d", getpid());
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		g_test_skip("cannot create a file under /dev");
		return;
	}
	g_assert_cmpint(ftruncate(fd, (off_t)ps), ==, 0);
	char *p = mmap(NULL, ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	g_assert_true(p != MAP_FAILED);
	p[0] = 1;

	struct sdfs_maps m;
	g_assert_cmpint(sdfs_maps_read(getpid(), &m), ==, 0);
	ssize_t i = sdfs_maps_find(&m, (uint64_t)(uintptr_t)p);
	g_assert_cmpint(i, >=, 0);
	g_assert_cmpstr(m.vmas[i].path, ==, path);
	g_assert_true(sdfs_vma_trackable(&m.vmas[i]));

	/* from the line alone, it is guessed to be a device */
	g_autofree char *line = g_strdup_printf(
		"%" G_GINT64_MODIFIER "x-%" G_GINT64_MODIFIER
		"x rw-s 00000000 00:05 %" G_GUINT64_FORMAT " %s",
		m.vmas[i].start, m.vmas[i].end, m.vmas[i].inode, path);
	struct sdfs_vma v;
	g_autofree char *lpath = NULL;
	g_assert_cmpint(parse_line(line, &v, &lpath), ==, 0);
	v.path = lpath;
	g_assert_false(sdfs_vma_trackable(&v));

	sdfs_maps_free(&m);
	munmap(p, ps);
	close(fd);
	unlink(path);
}

/* Independent split of one maps line with sscanf. */
static bool oracle_split(const char *line, uint64_t *start, uint64_t *end,
			 char perms[5], const char **path)
{
	unsigned long long s, e, off, ino;
	unsigned maj, min;
	int n = 0;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu%n", &s, &e, perms, &off,
		   &maj, &min, &ino, &n) != 7)
		return false;
	const char *p = line + n;
	while (*p == ' ')
		p++;
	*start = s;
	*end = e;
	*path = p;
	return true;
}

/* Every line of the real /proc/self/maps parses, in order, to the same
 * fields an independent split gives. */
static void test_maps_self(void)
{
	g_autofree char *text = NULL;
	struct sdfs_maps m;

	g_assert_true(
		g_file_get_contents("/proc/self/maps", &text, NULL, NULL));
	g_assert_cmpint(sdfs_maps_parse(xstrdup(text), &m), ==, 0);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	size_t nlines = g_strv_length(lines);
	g_assert_cmpstr(lines[nlines - 1], ==, ""); /* ends with a newline */
	g_assert_cmpuint(m.n, ==, nlines - 1);
	for (size_t i = 0; i < m.n; i++) {
		uint64_t s = 0, e = 0;
		char perms[5];
		const char *path = NULL;
		g_assert_true(oracle_split(lines[i], &s, &e, perms, &path));
		g_assert_cmphex(m.vmas[i].start, ==, s);
		g_assert_cmphex(m.vmas[i].end, ==, e);
		g_assert_cmpstr(m.vmas[i].perms, ==, perms);
		g_assert_cmpstr(m.vmas[i].path, ==, path);
		if (i)
			g_assert_cmphex(m.vmas[i - 1].end, <=, m.vmas[i].start);
	}
	sdfs_maps_free(&m);

	/* and through sdfs_maps_read: our own stack, code and heap */
	int local = 0;
	void *heap = g_malloc(16);
	g_assert_cmpint(sdfs_maps_read(getpid(), &m), ==, 0);
	g_assert_cmpuint(m.n, >, 3);
	ssize_t i = sdfs_maps_find(&m, (uint64_t)(uintptr_t)&local);
	g_assert_cmpint(i, >=, 0);
	g_assert_cmpstr(m.vmas[i].path, ==, "[stack]");
	g_assert_true(sdfs_vma_trackable(&m.vmas[i]));
	i = sdfs_maps_find(&m, (uint64_t)(uintptr_t)&test_maps_self);
	g_assert_cmpint(i, >=, 0);
	g_assert_cmpint(m.vmas[i].perms[2], ==, 'x');
	i = sdfs_maps_find(&m, (uint64_t)(uintptr_t)heap);
	g_assert_cmpint(i, >=, 0);
	g_assert_cmpint(m.vmas[i].perms[1], ==, 'w');
	for (size_t j = 0; j < m.n; j++)
		if (!strcmp(m.vmas[j].path, "[vvar]") ||
		    !strcmp(m.vmas[j].path, "[vsyscall]"))
			g_assert_false(sdfs_vma_trackable(&m.vmas[j]));
	sdfs_maps_free(&m);
	g_free(heap);

	g_assert_cmpint(sdfs_maps_read(INT_MAX, &m), ==, -ESRCH);
}

/* A maps file larger than one read chunk (64 KiB) is read whole. */
static void test_maps_read_large(void)
{
	size_t ps = sdfs_page_size();
	const size_t npages = 4000;
	/* PROT_NONE guard pages at both ends keep the neighbours from
	 * merging with the first or last page */
	char *mem = mmap(NULL, (npages + 2) * ps, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_assert_true(mem != MAP_FAILED);
	char *base = mem + ps;
	for (size_t i = 1; i < npages; i += 2)
		g_assert_cmpint(mprotect(base + i * ps, ps, PROT_READ), ==, 0);
	for (size_t i = 0; i < npages; i += 2)
		g_assert_cmpint(
			mprotect(base + i * ps, ps, PROT_READ | PROT_WRITE), ==,
			0);

	struct sdfs_maps m;
	g_assert_cmpint(sdfs_maps_read(getpid(), &m), ==, 0);
	g_assert_cmpuint(m.n, >=, npages);
	ssize_t first = sdfs_maps_find(&m, (uint64_t)(uintptr_t)base);
	g_assert_cmpint(first, >=, 0);
	for (size_t i = 0; i < npages; i++) {
		const struct sdfs_vma *v = &m.vmas[first + (ssize_t)i];
		g_assert_cmphex(v->start, ==,
				(uint64_t)(uintptr_t)(base + i * ps));
		g_assert_cmphex(v->end, ==, v->start + ps);
		g_assert_cmpstr(v->perms, ==, i % 2 ? "r--p" : "rw-p");
	}
	sdfs_maps_free(&m);
	munmap(mem, (npages + 2) * ps);
}

/*
 * /proc/PID/maps is produced one read() at a time, and one read() returns
 * at most one page of text (seq_file's buffer), whatever the size asked
 * for: each read takes the mmap lock anew and resumes after the last
 * mapping shown. So any maps text longer than a page, of a process that
 * changes its mappings meanwhile, can come out torn: a mapping merged
 * across the resume point shows up again with a start below the previous
 * line's end. sdfs_maps_read() must not turn that into -EINVAL (which
 * would fail dirty_ranges, pages/ or a uffd clear of any busy process);
 * it should read again.
 */
struct churn {
	char *base;
	size_t npages, ps;
	gint stop;
	guint rounds;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;

	while (!g_atomic_int_get(&c->stop)) {
		/* merge the whole region into one mapping, then split it
		 * into alternating permissions again */
		mprotect(c->base, c->npages * c->ps, PROT_READ);
		for (size_t i = 0; i < c->npages; i += 2)
			mprotect(c->base + i * c->ps, c->ps,
				 PROT_READ | PROT_WRITE);
		c->rounds++;
	}
	return NULL;
}

static void test_maps_read_concurrent(void)
{
	struct churn c = {.npages = 4000, .ps = sdfs_page_size()};
	char *mem = mmap(NULL, (c.npages + 2) * c.ps, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g_assert_true(mem != MAP_FAILED);
	c.base = mem + c.ps;
	pthread_t th;
	g_assert_cmpint(pthread_create(&th, NULL, churn_main, &c), ==, 0);

	int reads = 0, einval = 0, other = 0;
	gint64 until = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < until) {
		struct sdfs_maps m;
		int r = sdfs_maps_read(getpid(), &m);
		reads++;
		if (r == 0)
			sdfs_maps_free(&m);
		else if (r == -EINVAL)
			einval++;
		else
			other++;
	}
	g_atomic_int_set(&c.stop, 1);
	g_assert_cmpint(pthread_join(th, NULL), ==, 0);
	munmap(mem, (c.npages + 2) * c.ps);
	g_test_message("%d reads, %d EINVAL, %d other errors, %u churn rounds",
		       reads, einval, other, c.rounds);
	g_assert_cmpint(other, ==, 0);
	if (einval) {
		g_test_message("BUG: sdfs_maps_read() returned -EINVAL for %d "
			       "of %d reads of a process changing its "
			       "mappings (torn maps text)",
			       einval, reads);
		g_test_fail();
	}
}

/* ---------------------------------------------------------------- stat */

static char *make_stat(const char *pid_comm, char state, const char *ppid,
		       const char *prio_nice, unsigned long flags,
		       uint64_t starttime, uint64_t vsize)
{
	return g_strdup_printf(
		"%s %c %s 1234 1234 34816 -1 %lu 100 0 0 0 1 2 0 0 %s 1 0 "
		"%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
		" 300 18446744073709551615 94000 95000 140000 0 0 0 0 0 0 0 0 "
		"0 17 1 0 0 0 0 0 96000 97000 98000 140001 140002 140003 "
		"140004 0\n",
		pid_comm, state, ppid, flags, prio_nice, starttime, vsize);
}

static int stat_parse_str(const char *s, struct sdfs_stat *st)
{
	size_t len = strlen(s);
	char *copy = g_malloc(len ? len : 1); /* no NUL: ASan sees over-reads */
	memcpy(copy, s, len);
	int r = sdfs_stat_parse(copy, len, st);
	g_free(copy);
	return r;
}

static void test_stat_synthetic(void)
{
	static const struct {
		const char *pid_comm;
		pid_t pid;
	} comms[] = {
		{"1234 (a) b) (c)", 1234},
		{"1234 (cat)", 1234},
		{"1 (systemd)", 1},
		{"7 ()", 7},
		{"7 ())", 7},
		{"7 (()", 7},
		{"7 ( )", 7},
		{"7 (a b c)", 7},
		{"7 (x) R 1 2 3 (y)", 7},
		{"7 (tab\there)", 7},
		{"7 (new\nline)", 7},
		{"2147483647 (max)", 2147483647},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(comms); i++) {
		g_autofree char *s =
			make_stat(comms[i].pid_comm, 'S', "1", "20 0", 0x400100,
				  987654, 12345678);
		struct sdfs_stat st;
		g_test_message("stat: %s", s);
		g_assert_cmpint(stat_parse_str(s, &st), ==, 0);
		g_assert_cmpint(st.pid, ==, comms[i].pid);
		g_assert_cmpint(st.state, ==, 'S');
		g_assert_cmpint(st.ppid, ==, 1);
		g_assert_cmphex(st.flags, ==, 0x400100);
		g_assert_cmpuint(st.starttime, ==, 987654);
		g_assert_cmpuint(st.vsize, ==, 12345678);
	}

	/* negative priority and nice (a real-time task), ppid 0, Z, kthread */
	g_autofree char *rt = make_stat("42 (rt) ", 'Z', "0", "-51 -20",
					PF_KTHREAD | 0x40, UINT64_MAX, 0);
	struct sdfs_stat st;
	/* "(rt) " then state: the comm ends at the last ')' */
	g_assert_cmpint(stat_parse_str(rt, &st), ==, -EINVAL);
	g_free(rt);
	rt = make_stat("42 (rt)", 'Z', "0", "-51 -20", PF_KTHREAD | 0x40,
		       UINT64_MAX, 0);
	g_assert_cmpint(stat_parse_str(rt, &st), ==, 0);
	g_assert_cmpint(st.pid, ==, 42);
	g_assert_cmpint(st.state, ==, 'Z');
	g_assert_cmpint(st.ppid, ==, 0);
	g_assert_cmphex(st.flags, ==, PF_KTHREAD | 0x40);
	g_assert_cmpuint(st.starttime, ==, UINT64_MAX);
	g_assert_cmpuint(st.vsize, ==, 0);

	/* cut right after vsize: still complete */
	g_autofree char *full = make_stat("9 (c)", 'R', "1", "20 0", 0, 5, 6);
	char *vs = strstr(full, " 6 300 ");
	g_assert_nonnull(vs);
	g_autofree char *cut = g_strndup(full, (size_t)(vs - full) + 2);
	g_assert_cmpint(stat_parse_str(cut, &st), ==, 0);
	g_assert_cmpuint(st.vsize, ==, 6);
	g_assert_cmpuint(st.starttime, ==, 5);
	/* any shorter cut is not */
	for (size_t len = 0; len < strlen(cut) - 1; len++) {
		g_autofree char *c = g_strndup(cut, len);
		g_assert_cmpint(stat_parse_str(c, &st), ==, -EINVAL);
	}
}

static void test_stat_bad(void)
{
	static const char *const bad[] = {
		"",
		"1234",
		"1234 ",
		"1234 cat) S 1",
		"1234 (cat S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 6",
		"(cat) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 6",
		"-1 (cat) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 6",
		"2147483648 (cat) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 6",
		"1234 (cat)S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 6",
		"1234 (cat) S1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 6",
		"1234 (cat) S",
		"1234 (cat) S ",
		"1234 (cat) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
		"1234 (cat) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 ",
		"1234 (cat) S 1 1 1 0 -1 x 0 0 0 0 0 0 0 0 20 0 1 0 5 6",
		"1234 (cat) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 - 6",
		"1234 (cat) S 1  1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 6",
		"1234 (cat) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 "
		"18446744073709551616",
		"1234 (cat) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 "
		"99999999999999999999 6",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct sdfs_stat st;
		g_test_message("bad stat: '%s'", bad[i]);
		g_assert_cmpint(stat_parse_str(bad[i], &st), ==, -EINVAL);
	}
}

static void test_stat_self(void)
{
	g_autofree char *buf = NULL;
	size_t len;
	struct sdfs_stat st;

	g_assert_cmpint(sdfs_read_file("/proc/self/stat", &buf, &len), ==, 0);
	g_assert_cmpuint(len, ==, strlen(buf));
	g_assert_cmpint(sdfs_stat_parse(buf, len, &st), ==, 0);
	g_assert_cmpint(st.pid, ==, getpid());
	g_assert_cmpint(st.ppid, ==, getppid());
	g_assert_cmpint(st.state, ==, 'R');
	g_assert_cmphex(st.flags & PF_KTHREAD, ==, 0);
	g_assert_cmpuint(st.starttime, >, 0);
	g_assert_cmpuint(st.vsize, >, 0);

	/* starttime is field 22: check against an independent split */
	const char *rp = strrchr(buf, ')');
	g_assert_nonnull(rp);
	g_auto(GStrv) f = g_strsplit(rp + 2, " ", -1);
	g_assert_cmpuint(g_strv_length(f), >=, 21);
	g_assert_cmpuint(st.starttime, ==,
			 g_ascii_strtoull(f[22 - 3], NULL, 10));
	g_assert_cmpuint(st.vsize, ==, g_ascii_strtoull(f[23 - 3], NULL, 10));
	g_assert_cmpuint(st.flags, ==, g_ascii_strtoull(f[9 - 3], NULL, 10));
}

/* -------------------------------------------------------------- status */

static const char status_synth[] = "Name:\tcat\n"
				   "Umask:\t0022\n"
				   "State:\tS (sleeping)\n"
				   "Tgid:\t1234\n"
				   "Ngid:\t0\n"
				   "Pid:\t1235\n"
				   "PPid:\t77\n"
				   "TracerPid:\t99\n"
				   "Uid:\t1000\t1001\t1002\t1003\n"
				   "Gid:\t2000\t2001\t2002\t2003\n"
				   "FDSize:\t256\n"
				   "NStgid:\t1234\t1\n"
				   "NSpid:\t1235\t2\n";

static int status_parse_str(const char *s, struct sdfs_status *st)
{
	size_t len = strlen(s);
	char *copy = g_malloc(len ? len : 1);
	memcpy(copy, s, len);
	int r = sdfs_status_parse(copy, len, st);
	g_free(copy);
	return r;
}

static void test_status_synthetic(void)
{
	struct sdfs_status st;

	g_assert_cmpint(status_parse_str(status_synth, &st), ==, 0);
	g_assert_cmpint(st.tgid, ==, 1234);
	g_assert_cmpint(st.pid, ==, 1235); /* not PPid, not TracerPid */
	g_assert_cmpint(st.state, ==, 'S');
	for (int i = 0; i < 4; i++) {
		g_assert_cmpuint(st.uid[i], ==, 1000 + i);
		g_assert_cmpuint(st.gid[i], ==, 2000 + i);
	}

	/* spaces instead of tabs, no final newline, max ids */
	g_assert_cmpint(status_parse_str("Tgid: 5\nPid:  5\nState: Z (zombie)\n"
					 "Uid: 0 4294967295 0 0\n"
					 "Gid: 1 1 1 4294967294",
					 &st),
			==, 0);
	g_assert_cmpint(st.tgid, ==, 5);
	g_assert_cmpint(st.state, ==, 'Z');
	g_assert_cmpuint(st.uid[1], ==, 4294967295U);
	g_assert_cmpuint(st.gid[3], ==, 4294967294U);

	/* each required key missing in turn */
	static const char *const keys[] = {
		"State:", "Tgid:", "Pid:", "Uid:", "Gid:"};
	for (size_t k = 0; k < G_N_ELEMENTS(keys); k++) {
		g_auto(GStrv) lines = g_strsplit(status_synth, "\n", -1);
		GString *s = g_string_new(NULL);
		for (char **l = lines; *l; l++)
			if (!g_str_has_prefix(*l, keys[k]))
				g_string_append_printf(s, "%s\n", *l);
		g_test_message("without %s", keys[k]);
		g_assert_cmpint(status_parse_str(s->str, &st), ==, -EINVAL);
		g_string_free(s, TRUE);
	}

	static const char *const bad[] = {
		"",
		"\n\n\n",
		"Tgid:\t1\nPid:\t1\nState:\tR\nUid:\t0\t0\t0\nGid:"
		"\t0\t0\t0\t0\n",
		"Tgid:\t1\nPid:\t1\nState:\tR\nUid:\t0\t0\t0\t0\nGid:\tx\n",
		"Tgid:\t1\nPid:\t1\nState:\nUid:\t0\t0\t0\t0\nGid:"
		"\t0\t0\t0\t0\n",
		"Tgid:\t\nPid:\t1\nState:\tR\nUid:\t0\t0\t0\t0\nGid:"
		"\t0\t0\t0\t0\n",
		"Tgid:\t2147483648\nPid:\t1\nState:\tR\nUid:\t0\t0\t0\t0\nGid:"
		"\t0\t0\t0\t0\n",
		"Tgid:\t1\nPid:\t-1\nState:\tR\nUid:\t0\t0\t0\t0\nGid:"
		"\t0\t0\t0\t0\n",
		"Tgid:\t1\nPid:\t1\nState:\tR\nUid:\t0\t0\t0\t4294967296\nGid:"
		"\t0"
		"\t0\t0\t0\n",
		/* keys must start the line */
		"Tgid:\t1\n "
		"Pid:\t1\nState:\tR\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
		"Tgid:\t1\nxPid:\t1\nState:\tR\nUid:\t0\t0\t0\t0\nGid:"
		"\t0\t0\t0\t0\n",
		/* only keys other than the ones needed */
		"PPid:\t1\nTracerPid:\t1\nNSpid:\t1\nNStgid:\t1\n",
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("bad status %zu", i);
		g_assert_cmpint(status_parse_str(bad[i], &st), ==, -EINVAL);
	}
}

static void test_status_self(void)
{
	g_autofree char *buf = NULL;
	size_t len;
	struct sdfs_status st;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	g_assert_cmpint(sdfs_read_file("/proc/self/status", &buf, &len), ==, 0);
	g_assert_cmpint(sdfs_status_parse(buf, len, &st), ==, 0);
	g_assert_cmpint(st.tgid, ==, getpid());
	g_assert_cmpint(st.pid, ==, getpid());
	g_assert_cmpint(st.state, ==, 'R');
	g_assert_cmpint(getresuid(&ru, &eu, &su), ==, 0);
	g_assert_cmpint(getresgid(&rg, &eg, &sg), ==, 0);
	g_assert_cmpuint(st.uid[0], ==, ru);
	g_assert_cmpuint(st.uid[1], ==, eu);
	g_assert_cmpuint(st.uid[2], ==, su);
	g_assert_cmpuint(st.gid[0], ==, rg);
	g_assert_cmpuint(st.gid[1], ==, eg);
	g_assert_cmpuint(st.gid[2], ==, sg);
}

/* --------------------------------------------------------------- names */

static void test_pid_names(void)
{
	static const struct {
		const char *name;
		pid_t pid;
	} cases[] = {
		{"1", 1},
		{"2", 2},
		{"10", 10},
		{"4194303", 4194303},
		{"4194304", 4194304},
		{"2147483647", 2147483647},
		{"0", -ENOENT},
		{"00", -ENOENT},
		{"01", -ENOENT},
		{"+1", -ENOENT},
		{"-1", -ENOENT},
		{" 1", -ENOENT},
		{"1 ", -ENOENT},
		{"1\n", -ENOENT},
		{"2147483648", -ENOENT},
		{"4294967296", -ENOENT},
		{"4294967297", -ENOENT},
		{"18446744073709551617", -ENOENT},
		{"99999999999999999999999999999", -ENOENT},
		{"", -ENOENT},
		{"12a", -ENOENT},
		{"a12", -ENOENT},
		{"0x1", -ENOENT},
		{"1e3", -ENOENT},
		{"1.0", -ENOENT},
		{"\xd9\xa3", -ENOENT},	   /* U+0663 ARABIC-INDIC DIGIT THREE */
		{"\xef\xbc\x91", -ENOENT}, /* U+FF11 FULLWIDTH DIGIT ONE */
		{"self", -ENOENT},
		{".", -ENOENT},
		{"..", -ENOENT},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("pid name '%s'", cases[i].name);
		g_assert_cmpint(sdfs_parse_pid_name(cases[i].name), ==,
				cases[i].pid);
	}
	/* every canonical decimal round-trips */
	for (pid_t p = 1; p < 5000; p++) {
		char b[16];
		snprintf(b, sizeof(b), "%d", (int)p);
		g_assert_cmpint(sdfs_parse_pid_name(b), ==, p);
	}
}

static void test_page_names(void)
{
	static const struct {
		const char *name;
		int r;
		uint64_t addr;
	} cases[] = {
		{"0", 0, 0},
		{"1", 0, 1},
		{"1000", 0, 0x1000},
		{"0000000000001000", 0, 0x1000},
		{"00001000", 0, 0x1000},
		{"7ffc0fabb000", 0, 0x7ffc0fabb000},
		{"00007ffc0fabb000", 0, 0x7ffc0fabb000},
		{"00007FFC0FABB000", 0, 0x7ffc0fabb000},
		{"00007fFc0FaBb000", 0, 0x7ffc0fabb000},
		{"abcdef", 0, 0xabcdef},
		{"ABCDEF", 0, 0xabcdef},
		{"ffffffffffffffff", 0, UINT64_MAX},
		{"FFFFFFFFFFFFFFFF", 0, UINT64_MAX},
		{"ffffffffff600000", 0, 0xffffffffff600000},
		{"0000000000000000", 0, 0},
		{"00000000000001000", -ENOENT, 0}, /* 17 digits */
		{"10000000000000000", -ENOENT, 0},
		{"", -ENOENT, 0},
		{"0x10", -ENOENT, 0},
		{"0X10", -ENOENT, 0},
		{"x10", -ENOENT, 0},
		{"g", -ENOENT, 0},
		{"1g", -ENOENT, 0},
		{"g1", -ENOENT, 0},
		{" 1", -ENOENT, 0},
		{"1 ", -ENOENT, 0},
		{"1\n", -ENOENT, 0},
		{"+1", -ENOENT, 0},
		{"-1", -ENOENT, 0},
		{"1000.", -ENOENT, 0},
		{".", -ENOENT, 0},
		{"..", -ENOENT, 0},
		{"\xd9\xa3", -ENOENT, 0},
		{"\xef\xbd\x81", -ENOENT, 0}, /* U+FF41 FULLWIDTH a */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		uint64_t addr = 0xdeadbeef;
		g_test_message("page name '%s'", cases[i].name);
		g_assert_cmpint(sdfs_parse_page_name(cases[i].name, &addr), ==,
				cases[i].r);
		if (cases[i].r == 0)
			g_assert_cmphex(addr, ==, cases[i].addr);
		else
			g_assert_cmphex(addr, ==, 0xdeadbeef); /* untouched */
	}
	/* the rendered form and the short form agree for every length */
	for (int shift = 0; shift < 64; shift += 4) {
		uint64_t a = 0x123456789abcdef0ULL >> shift, b, c;
		char full[32], shrt[32];
		snprintf(full, sizeof(full), "%016" G_GINT64_MODIFIER "x", a);
		snprintf(shrt, sizeof(shrt), "%" G_GINT64_MODIFIER "x", a);
		g_assert_cmpint(sdfs_parse_page_name(full, &b), ==, 0);
		g_assert_cmpint(sdfs_parse_page_name(shrt, &c), ==, 0);
		g_assert_cmphex(b, ==, a);
		g_assert_cmphex(c, ==, a);
	}
}

/* ------------------------------------------------------------ identify */

static uint64_t starttime_of(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
	g_autofree char *buf = NULL;
	size_t len;
	struct sdfs_stat st;

	g_assert_cmpint(sdfs_read_file(path, &buf, &len), ==, 0);
	g_assert_cmpint(sdfs_stat_parse(buf, len, &st), ==, 0);
	return st.starttime;
}

static void test_identify_self(void)
{
	struct sdfs_proc_id id;

	memset(&id, 0xaa, sizeof(id));
	g_assert_cmpint(sdfs_proc_identify(getpid(), &id), ==, 0);
	g_assert_cmpint(id.pid, ==, getpid());
	g_assert_cmpuint(id.starttime, ==, starttime_of(getpid()));
	g_assert_cmpuint(id.starttime, >, 0);
	/* st_uid of /proc/PID is the effective uid (task_dump_owner) */
	g_assert_cmpuint(id.uid, ==, geteuid());
	g_assert_cmpuint(id.gid, ==, getegid());
}

static void test_identify_bad_pids(void)
{
	struct sdfs_proc_id id, before;

	memset(&id, 0xaa, sizeof(id));
	before = id;
	g_assert_cmpint(sdfs_proc_identify(0, &id), ==, -ESRCH);
	g_assert_cmpint(sdfs_proc_identify(-1, &id), ==, -ESRCH);
	g_assert_cmpint(sdfs_proc_identify(INT_MIN, &id), ==, -ESRCH);
	g_assert_cmpint(sdfs_proc_identify(INT_MAX, &id), ==, -ESRCH);
	g_assert_cmpint(sdfs_proc_identify(4194304, &id), ==, -ESRCH);
	g_assert_cmpmem(&id, sizeof(id), &before, sizeof(before));

	/* a reaped child */
	pid_t c = fork();
	g_assert_cmpint(c, >=, 0);
	if (c == 0)
		_exit(0);
	g_assert_cmpint(waitpid(c, NULL, 0), ==, c);
	if (kill(c, 0) < 0 && errno == ESRCH)
		g_assert_cmpint(sdfs_proc_identify(c, &id), ==, -ESRCH);
}

struct thr {
	pthread_barrier_t b;
	pid_t tid;
};

static void *thread_main(void *arg)
{
	struct thr *t = arg;
	t->tid = gettid();
	pthread_barrier_wait(&t->b); /* tid is set */
	pthread_barrier_wait(&t->b); /* main is done */
	return NULL;
}

static void test_identify_thread(void)
{
	struct thr t = {0};
	pthread_t th;
	struct sdfs_proc_id id;

	g_assert_cmpint(pthread_barrier_init(&t.b, NULL, 2), ==, 0);
	g_assert_cmpint(pthread_create(&th, NULL, thread_main, &t), ==, 0);
	pthread_barrier_wait(&t.b);
	g_assert_cmpint(t.tid, !=, getpid());
	/* the thread's /proc entry exists (hidden from readdir) ... */
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)t.tid);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	/* ... but it is not a thread-group leader */
	g_assert_cmpint(sdfs_proc_identify(t.tid, &id), ==, -ESRCH);
	g_assert_cmpint(sdfs_proc_identify(getpid(), &id), ==, 0);
	pthread_barrier_wait(&t.b);
	g_assert_cmpint(pthread_join(th, NULL), ==, 0);
	pthread_barrier_destroy(&t.b);
}

static void test_identify_zombie(void)
{
	struct sdfs_proc_id id;
	siginfo_t si;

	pid_t c = fork();
	g_assert_cmpint(c, >=, 0);
	if (c == 0)
		_exit(3);
	/* wait for the exit without reaping: c is a zombie now */
	g_assert_cmpint(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT), ==, 0);
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)c);
	g_autofree char *buf = NULL;
	size_t len;
	struct sdfs_stat st;
	g_assert_cmpint(sdfs_read_file(path, &buf, &len), ==, 0);
	g_assert_cmpint(sdfs_stat_parse(buf, len, &st), ==, 0);
	g_assert_cmpint(st.state, ==, 'Z');
	g_assert_cmpint(sdfs_proc_identify(c, &id), ==, -ESRCH);
	g_assert_cmpint(waitpid(c, NULL, 0), ==, c);
	g_assert_cmpint(sdfs_proc_identify(c, &id), ==, -ESRCH);
}

/* A stopped process still has its address space: it is shown. */
static void test_identify_stopped_child(void)
{
	struct sdfs_proc_id id;
	int status;

	pid_t c = fork();
	g_assert_cmpint(c, >=, 0);
	if (c == 0) {
		for (;;)
			pause();
	}
	g_assert_cmpint(kill(c, SIGSTOP), ==, 0);
	g_assert_cmpint(waitpid(c, &status, WUNTRACED), ==, c);
	g_assert_true(WIFSTOPPED(status));
	g_assert_cmpint(sdfs_proc_identify(c, &id), ==, 0);
	g_assert_cmpint(id.pid, ==, c);
	g_assert_cmpuint(id.starttime, ==, starttime_of(c));
	g_assert_cmpuint(id.starttime, >=, starttime_of(getpid()));
	kill(c, SIGKILL);
	g_assert_cmpint(waitpid(c, NULL, 0), ==, c);
}

static void test_identify_kthread(void)
{
	g_autofree char *buf = NULL;
	size_t len;
	struct sdfs_stat st;
	struct sdfs_proc_id id;

	if (sdfs_read_file("/proc/2/stat", &buf, &len) < 0 ||
	    sdfs_stat_parse(buf, len, &st) < 0) {
		g_test_skip("no readable /proc/2/stat (pid namespace?)");
		return;
	}
	if (!(st.flags & PF_KTHREAD)) {
		g_test_skip("pid 2 is not a kernel thread here");
		return;
	}
	g_assert_cmpint(sdfs_proc_identify(2, &id), ==, -ESRCH);
}

/* ---------------------------------------------------------- read_file */

static void test_read_file(void)
{
	char *buf = NULL;
	size_t len = 99;

	g_assert_cmpint(sdfs_read_file("/nonexistent/x", &buf, &len), ==,
			-ENOENT);
	g_assert_null(buf);
	g_assert_cmpuint(len, ==, 99);
	g_assert_cmpint(sdfs_read_file("/proc/self/cmdline", &buf, NULL), ==,
			0);
	g_assert_nonnull(buf);
	free(buf);
	g_assert_cmpuint(sdfs_page_size(), ==, (size_t)sysconf(_SC_PAGESIZE));
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/proc/maps/line/good", test_maps_line_good);
	g_test_add_func("/proc/maps/line/bad", test_maps_line_bad);
	g_test_add_func("/proc/maps/line/embedded-nul",
			test_maps_line_embedded_nul);
	g_test_add_func("/proc/maps/line/len-bound", test_maps_line_len_bound);
	g_test_add_func("/proc/maps/parse/text", test_maps_parse_text);
	g_test_add_func("/proc/maps/parse/bad", test_maps_parse_bad);
	g_test_add_func("/proc/maps/find", test_maps_find);
	g_test_add_func("/proc/maps/trackable", test_trackable);
	g_test_add_func("/proc/maps/read-dev-regular-file",
			test_maps_read_dev_regular_file);
	g_test_add_func("/proc/maps/self", test_maps_self);
	g_test_add_func("/proc/maps/read-large", test_maps_read_large);
	g_test_add_func("/proc/maps/read-concurrent",
			test_maps_read_concurrent);
	g_test_add_func("/proc/stat/synthetic", test_stat_synthetic);
	g_test_add_func("/proc/stat/bad", test_stat_bad);
	g_test_add_func("/proc/stat/self", test_stat_self);
	g_test_add_func("/proc/status/synthetic", test_status_synthetic);
	g_test_add_func("/proc/status/self", test_status_self);
	g_test_add_func("/proc/names/pid", test_pid_names);
	g_test_add_func("/proc/names/page", test_page_names);
	g_test_add_func("/proc/identify/self", test_identify_self);
	g_test_add_func("/proc/identify/bad-pids", test_identify_bad_pids);
	g_test_add_func("/proc/identify/thread", test_identify_thread);
	g_test_add_func("/proc/identify/zombie", test_identify_zombie);
	g_test_add_func("/proc/identify/stopped", test_identify_stopped_child);
	g_test_add_func("/proc/identify/kthread", test_identify_kthread);
	g_test_add_func("/proc/read-file", test_read_file);
	return g_test_run();
}
