/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for mountd/inode.c: inode numbers and fixed names. */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "inode.h"

#define PID_LIMIT (1 << SDFS_PID_BITS) /* first pid that is not encodable */
#define PAGENO_LIMIT (1ULL << SDFS_PAGENO_BITS)

static const enum sdfs_kind file_kinds[] = {
	SDFS_K_PIDDIR, SDFS_K_CLEAR,	  SDFS_K_DIRTY,	     SDFS_K_PAGES,
	SDFS_K_LAST,   SDFS_K_LAST_DIRTY, SDFS_K_LAST_PAGES, SDFS_K_STATUS,
	SDFS_K_LAST_IMAGE,
};
static const enum sdfs_kind page_kinds[] = {SDFS_K_PAGE, SDFS_K_LAST_PAGE};

static void roundtrip(enum sdfs_kind kind, pid_t pid, uint64_t pageno)
{
	struct sdfs_node n = {.kind = kind, .pid = pid, .pageno = pageno};
	struct sdfs_node d;

	uint64_t ino = sdfs_ino_encode(&n);
	g_test_message("kind %d pid %d page %" G_GINT64_MODIFIER
		       "x -> %" G_GINT64_MODIFIER "x",
		       kind, (int)pid, pageno, ino);
	g_assert_cmphex(ino, !=, 0);
	g_assert_cmphex(ino, !=, SDFS_ROOT_INO);
	memset(&d, 0x55, sizeof(d));
	g_assert_cmpint(sdfs_ino_decode(ino, &d), ==, 0);
	g_assert_cmpint(d.kind, ==, kind);
	g_assert_cmpint(d.pid, ==, pid);
	if (kind == SDFS_K_PAGE || kind == SDFS_K_LAST_PAGE)
		g_assert_cmphex(d.pageno, ==, pageno);
	else
		g_assert_cmphex(d.pageno, ==, 0);
	/* and back */
	g_assert_cmphex(sdfs_ino_encode(&d), ==, ino);
}

static void test_root(void)
{
	struct sdfs_node n = {.kind = SDFS_K_ROOT};
	struct sdfs_node d;

	g_assert_cmphex(sdfs_ino_encode(&n), ==, 1);
	g_assert_cmphex(SDFS_ROOT_INO, ==, 1); /* FUSE_ROOT_ID */
	memset(&d, 0x55, sizeof(d));
	g_assert_cmpint(sdfs_ino_decode(1, &d), ==, 0);
	g_assert_cmpint(d.kind, ==, SDFS_K_ROOT);
	g_assert_cmpint(d.pid, ==, 0);
	g_assert_cmphex(d.pageno, ==, 0);
	g_assert_true(sdfs_kind_is_dir(SDFS_K_ROOT));
}

static void test_roundtrip_files(void)
{
	static const pid_t pids[] = {1, 2, 300, 32768, 4194303};

	for (size_t k = 0; k < G_N_ELEMENTS(file_kinds); k++)
		for (size_t p = 0; p < G_N_ELEMENTS(pids); p++)
			roundtrip(file_kinds[k], pids[p], 0);
	/* a page number is ignored for non-page kinds */
	struct sdfs_node n = {.kind = SDFS_K_STATUS, .pid = 5, .pageno = 77};
	struct sdfs_node m = {.kind = SDFS_K_STATUS, .pid = 5};
	g_assert_cmphex(sdfs_ino_encode(&n), ==, sdfs_ino_encode(&m));
}

static void test_roundtrip_pages(void)
{
	static const pid_t pids[] = {1, 2, 4194303};
	static const uint64_t pagenos[] = {0, 1, 0x7ffc0fabb, 0xfffffffff,
					   PAGENO_LIMIT - 1};

	for (size_t k = 0; k < G_N_ELEMENTS(page_kinds); k++)
		for (size_t p = 0; p < G_N_ELEMENTS(pids); p++)
			for (size_t g = 0; g < G_N_ELEMENTS(pagenos); g++)
				roundtrip(page_kinds[k], pids[p], pagenos[g]);
}

static void test_limits(void)
{
	static const pid_t bad_pids[] = {
		0, -1, PID_LIMIT, PID_LIMIT + 1, 2147483647, -2147483647 - 1};

	for (size_t b = 0; b < G_N_ELEMENTS(bad_pids); b++) {
		for (size_t k = 0; k < G_N_ELEMENTS(file_kinds); k++) {
			struct sdfs_node n = {.kind = file_kinds[k],
					      .pid = bad_pids[b]};
			g_assert_cmphex(sdfs_ino_encode(&n), ==, 0);
		}
		for (size_t k = 0; k < G_N_ELEMENTS(page_kinds); k++) {
			struct sdfs_node n = {.kind = page_kinds[k],
					      .pid = bad_pids[b]};
			g_assert_cmphex(sdfs_ino_encode(&n), ==, 0);
		}
	}
	static const uint64_t bad_pagenos[] = {PAGENO_LIMIT, PAGENO_LIMIT + 1,
					       UINT64_MAX,
					       0xffffffffff600000ULL >> 12};
	for (size_t g = 0; g < G_N_ELEMENTS(bad_pagenos); g++)
		for (size_t k = 0; k < G_N_ELEMENTS(page_kinds); k++) {
			struct sdfs_node n = {.kind = page_kinds[k],
					      .pid = 1,
					      .pageno = bad_pagenos[g]};
			g_assert_cmphex(sdfs_ino_encode(&n), ==, 0);
		}
	/* kinds out of range */
	struct sdfs_node n = {.kind = SDFS_K_MAX, .pid = 1};
	g_assert_cmphex(sdfs_ino_encode(&n), ==, 0);
	n.kind = (enum sdfs_kind)1000;
	g_assert_cmphex(sdfs_ino_encode(&n), ==, 0);
	n.kind = (enum sdfs_kind) - 1;
	g_assert_cmphex(sdfs_ino_encode(&n), ==, 0);
}

/* No two nodes share a number. */
static void test_distinct(void)
{
	GHashTable *seen = g_hash_table_new(g_int64_hash, g_int64_equal);
	static const pid_t pids[] = {1, 2, 3, 4194302, 4194303};
	static const uint64_t pagenos[] = {0, 1, 2, PAGENO_LIMIT - 1};
	GArray *inos = g_array_new(FALSE, FALSE, sizeof(gint64));

	gint64 root = SDFS_ROOT_INO;
	g_array_append_val(inos, root);
	for (size_t p = 0; p < G_N_ELEMENTS(pids); p++) {
		for (size_t k = 0; k < G_N_ELEMENTS(file_kinds); k++) {
			struct sdfs_node n = {.kind = file_kinds[k],
					      .pid = pids[p]};
			gint64 ino = (gint64)sdfs_ino_encode(&n);
			g_array_append_val(inos, ino);
		}
		for (size_t k = 0; k < G_N_ELEMENTS(page_kinds); k++)
			for (size_t g = 0; g < G_N_ELEMENTS(pagenos); g++) {
				struct sdfs_node n = {.kind = page_kinds[k],
						      .pid = pids[p],
						      .pageno = pagenos[g]};
				gint64 ino = (gint64)sdfs_ino_encode(&n);
				g_array_append_val(inos, ino);
			}
	}
	for (guint i = 0; i < inos->len; i++) {
		gint64 *ino = &g_array_index(inos, gint64, i);
		g_assert_cmphex((guint64)*ino, !=, 0);
		g_assert_false(g_hash_table_contains(seen, ino));
		g_hash_table_add(seen, ino);
	}
	g_hash_table_unref(seen);
	g_array_free(inos, TRUE);
}

static void test_decode_garbage(void)
{
	static const uint64_t bad[] = {
		0,
		2,
		0xffffffffULL,		       /* kind 0, pid not 0 */
		(uint64_t)SDFS_K_PIDDIR << 32, /* pid 0 */
		((uint64_t)SDFS_K_PIDDIR << 32) | PID_LIMIT,
		((uint64_t)SDFS_K_PIDDIR << 32) | 0xffffffffULL,
		((uint64_t)SDFS_K_PAGE << 32) | 1, /* page kinds use bit 63 */
		((uint64_t)SDFS_K_LAST_PAGE << 32) | 1,
		((uint64_t)SDFS_K_MAX << 32) | 1,
		(0x100ULL + SDFS_K_PIDDIR) << 32 | 1, /* high bits in kind */
		(1ULL << 62) | ((uint64_t)SDFS_K_PIDDIR << 32) | 1,
		0x7fffffffffffffffULL,
		1ULL << 63,			   /* page, pid 0 */
		(1ULL << 63) | (1ULL << 62),	   /* last page, pid 0 */
		(1ULL << 63) | (PAGENO_LIMIT - 1), /* page, pid 0 */
	};
	for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct sdfs_node d, before;
		memset(&d, 0x55, sizeof(d));
		before = d;
		g_test_message("decode %" G_GINT64_MODIFIER "x", bad[i]);
		g_assert_cmpint(sdfs_ino_decode(bad[i], &d), ==, -ENOENT);
		g_assert_cmpmem(&d, sizeof(d), &before, sizeof(before));
	}

	/* every number that decodes encodes back to itself */
	GRand *rng = g_rand_new_with_seed(42);
	int ok = 0;
	for (int i = 0; i < 200000; i++) {
		uint64_t ino =
			((uint64_t)g_rand_int(rng) << 32) | g_rand_int(rng);
		switch (i % 4) {
		case 1: /* small kinds, small pids */
			ino &= 0xf003fffffULL;
			break;
		case 2: /* pages */
			ino |= 1ULL << 63;
			break;
		}
		struct sdfs_node d;
		if (sdfs_ino_decode(ino, &d) == 0) {
			ok++;
			g_assert_cmphex(sdfs_ino_encode(&d), ==, ino);
			g_assert_cmpint(d.kind, <, SDFS_K_MAX);
		}
	}
	g_assert_cmpint(ok, >, 1000);
	g_rand_free(rng);
}

static void test_kind_child(void)
{
	static const struct {
		enum sdfs_kind parent;
		const char *name;
		int kind;
	} cases[] = {
		{SDFS_K_PIDDIR, "clear", SDFS_K_CLEAR},
		{SDFS_K_PIDDIR, "dirty_ranges", SDFS_K_DIRTY},
		{SDFS_K_PIDDIR, "pages", SDFS_K_PAGES},
		{SDFS_K_PIDDIR, "last", SDFS_K_LAST},
		{SDFS_K_PIDDIR, "status", SDFS_K_STATUS},
		{SDFS_K_LAST, "dirty_ranges", SDFS_K_LAST_DIRTY},
		{SDFS_K_LAST, "pages", SDFS_K_LAST_PAGES},
		{SDFS_K_LAST, "image", SDFS_K_LAST_IMAGE},
		{SDFS_K_LAST, "pack", SDFS_K_LAST_PACK},
		{SDFS_K_PIDDIR, "image", -ENOENT},
		{SDFS_K_PIDDIR, "pack", -ENOENT},
		{SDFS_K_PIDDIR, "", -ENOENT},
		{SDFS_K_PIDDIR, ".", -ENOENT},
		{SDFS_K_PIDDIR, "..", -ENOENT},
		{SDFS_K_PIDDIR, "Clear", -ENOENT},
		{SDFS_K_PIDDIR, "clea", -ENOENT},
		{SDFS_K_PIDDIR, "clear ", -ENOENT},
		{SDFS_K_PIDDIR, "clear\n", -ENOENT},
		{SDFS_K_PIDDIR, "pages/", -ENOENT},
		{SDFS_K_PIDDIR, "dirty_range", -ENOENT},
		{SDFS_K_PIDDIR, "maps", -ENOENT},
		{SDFS_K_LAST, "clear", -ENOENT},
		{SDFS_K_LAST, "status", -ENOENT},
		{SDFS_K_LAST, "last", -ENOENT},
		{SDFS_K_LAST, "", -ENOENT},
		{SDFS_K_ROOT, "clear", -ENOENT},
		{SDFS_K_ROOT, "1", -ENOENT},
		{SDFS_K_PAGES, "pages", -ENOENT},
		{SDFS_K_PAGES, "0000000000001000", -ENOENT},
		{SDFS_K_LAST_PAGES, "dirty_ranges", -ENOENT},
		{SDFS_K_STATUS, "status", -ENOENT},
		{SDFS_K_CLEAR, "clear", -ENOENT},
		{SDFS_K_PAGE, "pages", -ENOENT},
		{SDFS_K_MAX, "clear", -ENOENT},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("child '%s' of %d", cases[i].name,
			       cases[i].parent);
		g_assert_cmpint(sdfs_kind_child(cases[i].parent, cases[i].name),
				==, cases[i].kind);
	}
}

static void test_kind_names(void)
{
	/* the name of every fixed child finds it again */
	static const enum sdfs_kind fixed[] = {
		SDFS_K_CLEAR,	   SDFS_K_DIRTY,  SDFS_K_PAGES,
		SDFS_K_LAST,	   SDFS_K_STATUS, SDFS_K_LAST_DIRTY,
		SDFS_K_LAST_PAGES, SDFS_K_LAST_IMAGE,
	};
	for (size_t i = 0; i < G_N_ELEMENTS(fixed); i++) {
		const char *name = sdfs_kind_name(fixed[i]);
		g_assert_nonnull(name);
		enum sdfs_kind parent = (fixed[i] == SDFS_K_LAST_DIRTY ||
					 fixed[i] == SDFS_K_LAST_PAGES ||
					 fixed[i] == SDFS_K_LAST_IMAGE)
						? SDFS_K_LAST
						: SDFS_K_PIDDIR;
		g_assert_cmpint(sdfs_kind_child(parent, name), ==, fixed[i]);
	}
	g_assert_null(sdfs_kind_name(SDFS_K_MAX));
	g_assert_null(sdfs_kind_name((enum sdfs_kind)1000));

	static const struct {
		enum sdfs_kind k;
		bool dir;
	} dirs[] = {
		{SDFS_K_ROOT, true},	    {SDFS_K_PIDDIR, true},
		{SDFS_K_CLEAR, false},	    {SDFS_K_DIRTY, false},
		{SDFS_K_PAGES, true},	    {SDFS_K_LAST, true},
		{SDFS_K_LAST_DIRTY, false}, {SDFS_K_LAST_PAGES, true},
		{SDFS_K_STATUS, false},	    {SDFS_K_PAGE, false},
		{SDFS_K_LAST_PAGE, false}, {SDFS_K_LAST_IMAGE, false},
	};
	for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++)
		g_assert_cmpint(sdfs_kind_is_dir(dirs[i].k), ==, dirs[i].dir);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/inode/root", test_root);
	g_test_add_func("/inode/roundtrip-files", test_roundtrip_files);
	g_test_add_func("/inode/roundtrip-pages", test_roundtrip_pages);
	g_test_add_func("/inode/limits", test_limits);
	g_test_add_func("/inode/distinct", test_distinct);
	g_test_add_func("/inode/decode-garbage", test_decode_garbage);
	g_test_add_func("/inode/kind-child", test_kind_child);
	g_test_add_func("/inode/kind-names", test_kind_names);
	return g_test_run();
}
