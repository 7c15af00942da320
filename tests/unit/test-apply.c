/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Tests of tools/sdfs-apply on files in a scratch directory (no mount):
 * only the data extents of the image land in the base, dropped ranges and
 * zero pages become holes, the base is never shortened, bad input fails.
 * The program's path comes in SDFS_APPLY.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#define B 4096u /* the unit of the test's offsets */

static const char *apply_exe;
static char *dir;

static char *path_of(const char *name)
{
	return g_build_filename(dir, name, NULL);
}

/* Write len bytes of value v at page pg of path (created if missing). */
static void put_pages(const char *path, unsigned pg, unsigned n, int v)
{
	int fd = open(path, O_WRONLY | O_CREAT, 0600);
	g_assert_cmpint(fd, >=, 0);
	g_autofree char *buf = g_malloc(n * B);
	memset(buf, v, n * B);
	g_assert_cmpint(pwrite(fd, buf, n * B, (off_t)pg * B), ==, n * B);
	close(fd);
}

static void set_size(const char *path, unsigned pages)
{
	g_assert_cmpint(truncate(path, (off_t)pages * B), ==, 0);
}

/* Run sdfs-apply with args; its exit status; stderr into *err. */
static int run_apply(const char *const *args, char **err)
{
	GPtrArray *argv = g_ptr_array_new();
	g_ptr_array_add(argv, (char *)apply_exe);
	for (; *args; args++)
		g_ptr_array_add(argv, (char *)*args);
	g_ptr_array_add(argv, NULL);
	int status = -1;
	GError *e = NULL;
	gboolean ok = g_spawn_sync(NULL, (char **)argv->pdata, NULL,
				   G_SPAWN_CLOEXEC_PIPES, NULL, NULL, NULL, err,
				   &status, &e);
	g_assert_no_error(e);
	g_assert_true(ok);
	g_ptr_array_free(argv, TRUE);
	g_assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Byte value of every page of path (-1: past its end); checks that each
 * page is uniform. */
static void check_pages(const char *path, const int *want, unsigned n)
{
	g_autofree char *data = NULL;
	gsize len;
	GError *e = NULL;

	g_assert_true(g_file_get_contents(path, &data, &len, &e));
	g_assert_no_error(e);
	for (unsigned pg = 0; pg < n; pg++) {
		if (want[pg] < 0) {
			g_assert_cmpuint(len, <=, (gsize)pg * B);
			continue;
		}
		g_assert_cmpuint(len, >=, (gsize)(pg + 1) * B);
		for (unsigned i = 0; i < B; i++)
			if ((unsigned char)data[pg * B + i] != want[pg])
				g_error("page %u byte %u: %#x, want %#x", pg, i,
					(unsigned char)data[pg * B + i],
					want[pg]);
	}
}

/* Whether page pg of path is in a hole. */
static bool is_hole(const char *path, unsigned pg)
{
	int fd = open(path, O_RDONLY);
	g_assert_cmpint(fd, >=, 0);
	off_t h = lseek(fd, (off_t)pg * B, SEEK_HOLE);
	close(fd);
	return h == (off_t)pg * B;
}

static void setup(void)
{
	GError *e = NULL;
	dir = g_dir_make_tmp("sdfs-apply-XXXXXX", &e);
	g_assert_no_error(e);
}

static void teardown(void)
{
	g_autofree char *cmd = g_strdup_printf("rm -rf '%s'", dir);
	g_assert_cmpint(system(cmd), ==, 0);
	g_free(dir);
	dir = NULL;
}

static void test_apply(void)
{
	setup();
	g_autofree char *base = path_of("base");
	g_autofree char *img = path_of("image");
	g_autofree char *drop = path_of("dropped");

	put_pages(base, 0, 10, 0xaa);
	/* the image: data at 2-3 (0x11), a zero page written at 7, holes
	 * elsewhere, 12 pages long */
	put_pages(img, 2, 2, 0x11);
	put_pages(img, 7, 1, 0);
	set_size(img, 12);
	g_autofree char *dtext = g_strdup_printf(
		"%016x-%016x 1 rw-p\n%016x-%016x 1 rw-p [heap]\n", 5 * B, 6 * B,
		9 * B, 10 * B);
	g_assert_true(g_file_set_contents(drop, dtext, -1, NULL));

	char *err = NULL;
	const char *args[] = {"-v", "-d", drop, img, base, NULL};
	g_assert_cmpint(run_apply(args, &err), ==, 0);
	g_assert_nonnull(strstr(err, "bytes written"));
	g_free(err);
	const int want[] = {0xaa, 0xaa, 0x11, 0x11, 0xaa, 0,
			    0xaa, 0,	0xaa, 0,    0,	  0};
	check_pages(base, want, G_N_ELEMENTS(want));
	struct stat st;
	g_assert_cmpint(stat(base, &st), ==, 0);
	g_assert_cmpint(st.st_size, ==, 12 * B); /* grown to the image's */
	/* dropped and zero pages are holes where the file system punches */
	int fd = open(base, O_WRONLY);
	bool punches = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				 11 * B, B) == 0;
	close(fd);
	if (punches) {
		g_assert_true(is_hole(base, 5));
		g_assert_true(is_hole(base, 7));
		g_assert_true(is_hole(base, 9));
		g_assert_false(is_hole(base, 2));
	}
	teardown();
}

/* Applying to a base that does not exist makes it; a longer base keeps
 * its length. */
static void test_new_and_longer_base(void)
{
	setup();
	g_autofree char *base = path_of("base");
	g_autofree char *img = path_of("image");

	put_pages(img, 3, 1, 0x33);
	set_size(img, 6);
	const char *args[] = {img, base, NULL};
	g_assert_cmpint(run_apply(args, NULL), ==, 0);
	const int want[] = {0, 0, 0, 0x33, 0, 0, -1};
	check_pages(base, want, G_N_ELEMENTS(want));
	struct stat st;
	g_assert_cmpint(stat(base, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0600);

	put_pages(base, 0, 20, 0x44);
	g_assert_cmpint(run_apply(args, NULL), ==, 0);
	g_assert_cmpint(stat(base, &st), ==, 0);
	g_assert_cmpint(st.st_size, ==, 20 * B);
	const int want2[] = {0x44, 0x44, 0x44, 0x33, 0x44, 0x44, 0x44};
	check_pages(base, want2, G_N_ELEMENTS(want2));
	teardown();
}

static void test_dropped_only(void)
{
	setup();
	g_autofree char *base = path_of("base");
	g_autofree char *drop = path_of("dropped");

	put_pages(base, 0, 4, 0x55);
	g_autofree char *dtext =
		g_strdup_printf("%016x-%016x 2 rw-p\n", 1 * B, 3 * B);
	g_assert_true(g_file_set_contents(drop, dtext, -1, NULL));
	const char *args[] = {"--dropped", drop, base, NULL};
	g_assert_cmpint(run_apply(args, NULL), ==, 0);
	const int want[] = {0x55, 0, 0, 0x55, -1};
	check_pages(base, want, G_N_ELEMENTS(want));
	teardown();
}

static void test_bad_input(void)
{
	setup();
	g_autofree char *base = path_of("base");
	g_autofree char *img = path_of("image");
	g_autofree char *drop = path_of("dropped");
	g_autofree char *missing = path_of("missing");
	char *err = NULL;

	put_pages(base, 0, 2, 0x66);
	put_pages(img, 0, 1, 0x77);
	/* a line that is not START-END: nothing is applied */
	g_assert_true(g_file_set_contents(drop, "0000000000001000 1 rw-p\n", -1,
					  NULL));
	const char *a1[] = {"-d", drop, img, base, NULL};
	g_assert_cmpint(run_apply(a1, &err), ==, 1);
	g_assert_nonnull(strstr(err, ":1: not a START-END line"));
	g_free(err);
	const int want[] = {0x66, 0x66};
	check_pages(base, want, 2);
	/* END not above START */
	g_assert_true(g_file_set_contents(
		drop, "0000000000002000-0000000000001000 1 rw-p\n", -1, NULL));
	g_assert_cmpint(run_apply(a1, NULL), ==, 1);
	/* a missing image */
	const char *a2[] = {missing, base, NULL};
	g_assert_cmpint(run_apply(a2, &err), ==, 1);
	g_assert_nonnull(strstr(err, "No such file"));
	g_free(err);
	check_pages(base, want, 2);
	/* usage errors */
	const char *a3[] = {base, NULL};
	g_assert_cmpint(run_apply(a3, NULL), ==, 2);
	const char *a4[] = {"-x", img, base, NULL};
	g_assert_cmpint(run_apply(a4, NULL), ==, 2);
	/* the base is a directory */
	const char *a5[] = {img, dir, NULL};
	g_assert_cmpint(run_apply(a5, NULL), ==, 1);
	teardown();
}

/*
 * -r: the extents come from a ranges file, and extents closer than the
 * gap are read in one window. Whatever the gap, the result is the one of
 * the SEEK_DATA walk: the holes inside a window are not written (the base
 * keeps its pages there), a data page of zeros is punched, an extent
 * longer than a window (4 MiB) goes in pieces.
 */
static void test_ranges(void)
{
	setup();
	g_autofree char *img = path_of("image");
	g_autofree char *ranges = path_of("ranges");
	/* data at 1, 3-4 (zeros at 4), 9, and 1030 pages from 20 (longer
	 * than a window); 1100 pages long */
	put_pages(img, 1, 1, 0x21);
	put_pages(img, 3, 1, 0x23);
	put_pages(img, 4, 1, 0);
	put_pages(img, 9, 1, 0x29);
	put_pages(img, 20, 1030, 0x30);
	set_size(img, 1100);
	g_autofree char *rtext = g_strdup_printf(
		"%016x-%016x 1 rw-p\n%016x-%016x 2 rw-p [heap]\n"
		"%016x-%016x 1 r--p /lib/x\n%016x-%016x 1030 rw-p\n",
		1 * B, 2 * B, 3 * B, 5 * B, 9 * B, 10 * B, 20 * B, 1050 * B);
	g_assert_true(g_file_set_contents(ranges, rtext, -1, NULL));

	int want[1100];
	for (unsigned i = 0; i < G_N_ELEMENTS(want); i++)
		want[i] = i < 1050 ? 0xbb : 0;
	want[1] = 0x21;
	want[3] = 0x23;
	want[4] = 0;
	want[9] = 0x29;
	for (unsigned i = 20; i < 1050; i++)
		want[i] = 0x30;
	const char *gaps[] = {"0", "4096", "65536", "1048576"};
	for (size_t g = 0; g < G_N_ELEMENTS(gaps); g++) {
		g_autofree char *base = path_of("base");
		unlink(base);
		put_pages(base, 0, 1050, 0xbb);
		char *err = NULL;
		const char *args[] = {"-v", "-r", ranges, "-g", gaps[g],
				      img,  base, NULL};
		g_assert_cmpint(run_apply(args, &err), ==, 0);
		/* the long extent is two pieces */
		g_assert_nonnull(strstr(err, ": 5 extents,"));
		g_free(err);
		check_pages(base, want, G_N_ELEMENTS(want));
	}
	/* the same as the SEEK_DATA walk (which finds 1, 3-4, 9, 20-1049) */
	g_autofree char *b1 = path_of("b1");
	g_autofree char *b2 = path_of("b2");
	put_pages(b1, 0, 1050, 0xbb);
	put_pages(b2, 0, 1050, 0xbb);
	const char *s1[] = {img, b1, NULL};
	const char *s2[] = {"-r", ranges, img, b2, NULL};
	g_assert_cmpint(run_apply(s1, NULL), ==, 0);
	g_assert_cmpint(run_apply(s2, NULL), ==, 0);
	g_autofree char *d1 = NULL, *d2 = NULL;
	gsize l1, l2;
	g_assert_true(g_file_get_contents(b1, &d1, &l1, NULL));
	g_assert_true(g_file_get_contents(b2, &d2, &l2, NULL));
	g_assert_cmpuint(l1, ==, l2);
	g_assert_true(memcmp(d1, d2, l1) == 0);

	/* bad input: ranges out of order, a bad gap, -r without an image,
	 * -d and -r both from stdin */
	char *err = NULL;
	g_autofree char *rbad = g_strdup_printf(
		"%016x-%016x 1 rw-p\n%016x-%016x 1 rw-p\n", 3 * B, 4 * B,
		1 * B, 2 * B);
	g_assert_true(g_file_set_contents(ranges, rbad, -1, NULL));
	const char *a1[] = {"-r", ranges, img, b1, NULL};
	g_assert_cmpint(run_apply(a1, &err), ==, 1);
	g_assert_nonnull(strstr(err, "not ascending"));
	g_free(err);
	const char *a2[] = {"-r", ranges, "-g", "-1", img, b1, NULL};
	g_assert_cmpint(run_apply(a2, NULL), ==, 2);
	const char *a3[] = {"-r", ranges, "-g", "12k", img, b1, NULL};
	g_assert_cmpint(run_apply(a3, NULL), ==, 2);
	const char *a4[] = {"-r", ranges, "-d", ranges, b1, NULL};
	g_assert_cmpint(run_apply(a4, NULL), ==, 2);
	const char *a5[] = {"-r", "-", "-d", "-", img, b1, NULL};
	g_assert_cmpint(run_apply(a5, NULL), ==, 2);
	teardown();
}

/* ---- -p: a round as one stream (last/pack) ------------------------------ */

/* A run of a pack: pages [first, first + n) of byte value v (-1: a
 * dropped range). */
struct prun {
	unsigned first, n;
	int v;
};

/* The pack of runs, in the daemon's format; pages_adj: added to the
 * page count of its first line. */
static GByteArray *make_pack(const struct prun *r, unsigned n, long pages_adj)
{
	GString *t = g_string_new(NULL);
	unsigned nd = 0, nx = 0, pages = 0;

	for (unsigned i = 0; i < n; i++) {
		if (r[i].v < 0)
			nx++;
		else {
			nd++;
			pages += r[i].n;
		}
	}
	g_string_append_printf(t,
			       "sdfs-pack 1 epoch 7 page_size %u drop %u data "
			       "%u pages %ld\n",
			       B, nx, nd, (long)pages + pages_adj);
	for (int pass = 0; pass < 2; pass++)
		for (unsigned i = 0; i < n; i++)
			if ((r[i].v < 0) == (pass == 0))
				g_string_append_printf(
					t, "%s %016x-%016x\n",
					pass ? "data" : "drop", r[i].first * B,
					(r[i].first + r[i].n) * B);
	GByteArray *b = g_byte_array_new_take(
		(guint8 *)t->str, t->len);
	g_string_free(t, FALSE);
	for (unsigned i = 0; i < n; i++)
		if (r[i].v >= 0) {
			guint8 *pg = g_malloc(r[i].n * B);
			memset(pg, r[i].v, r[i].n * B);
			g_byte_array_append(b, pg, r[i].n * B);
			g_free(pg);
		}
	return b;
}

static void write_bytes(const char *path, const GByteArray *b)
{
	GError *e = NULL;
	g_assert_true(g_file_set_contents(path, (const char *)b->data,
					  (gssize)b->len, &e));
	g_assert_no_error(e);
}

/* -p applies the dropped ranges, then the pages (a zero page punched);
 * from a file and from stdin, the same result. */
static void test_pack(void)
{
	setup();
	g_autofree char *base = path_of("base");
	g_autofree char *base2 = path_of("base2");
	g_autofree char *pack = path_of("pack");
	const struct prun r[] = {{5, 1, -1}, {9, 1, -1}, {2, 2, 0x11},
				 {7, 1, 0},   {11, 1, 0x22}};
	g_autoptr(GByteArray) b = make_pack(r, G_N_ELEMENTS(r), 0);
	write_bytes(pack, b);
	put_pages(base, 0, 10, 0xaa);
	put_pages(base2, 0, 10, 0xaa);
	char *err = NULL;
	const char *args[] = {"-v", "-p", pack, base, NULL};
	g_assert_cmpint(run_apply(args, &err), ==, 0);
	g_assert_nonnull(strstr(err, "epoch 7, 2 dropped ranges, 3 runs"));
	g_free(err);
	const int want[] = {0xaa, 0xaa, 0x11, 0x11, 0xaa, 0,
			    0xaa, 0,	0xaa, 0,    0,	  0x22};
	check_pages(base, want, G_N_ELEMENTS(want));
	g_assert_true(is_hole(base, 5));
	g_assert_true(is_hole(base, 7));
	/* through a pipe, as from another machine */
	g_autofree char *cmd = g_strdup_printf("cat '%s' | '%s' -p - '%s'",
					       pack, apply_exe, base2);
	g_assert_cmpint(system(cmd), ==, 0);
	check_pages(base2, want, G_N_ELEMENTS(want));
	teardown();
}

/* A stream that is not a pack changes nothing in BASE; one cut short or
 * with bytes after its pages fails. */
static void test_pack_bad(void)
{
	setup();
	g_autofree char *base = path_of("base");
	g_autofree char *pack = path_of("pack");
	const struct prun r[] = {{3, 1, -1}, {1, 2, 0x33}};
	const int keep[] = {0x66, 0x66, 0x66, 0x66};
	put_pages(base, 0, 4, 0x66);
	g_autoptr(GByteArray) good = make_pack(r, G_N_ELEMENTS(r), 0);
	const char *hdr_bad[] = {
		"sdfs-pack 2 epoch 7 page_size 4096 drop 1 data 1 pages 2\n",
		"sdfs-pack 1 epoch 7 page_size 3000 drop 1 data 1 pages 2\n",
		"sdfs-pack 1 epoch 7 page_size 4096 drop 1 data 1\n",
		"sdfs-pack 1 epoch 7 page_size 4096 drop 1 data 1 pages 2 x\n",
		"not a pack\n",
		"",
		/* only the daemon's decimal numbers, single spaces */
		"sdfs-pack 1 epoch -1 page_size 4096 drop 1 data 1 pages 2\n",
		"sdfs-pack 1 epoch 7 page_size +4096 drop 1 data 1 pages 2\n",
		"sdfs-pack 1 epoch 18446744073709551616 page_size 4096 drop 1 "
		"data 1 pages 2\n",
		"sdfs-pack 1 epoch 7 page_size 4096 drop 1 data 1 pages 2 \n",
		"sdfs-pack 1 epoch 7 page_size 4096  drop 1 data 1 pages 2\n",
		"sdfs-pack\t1 epoch 7 page_size 4096 drop 1 data 1 pages 2\n",
		"sdfs-pack 1 epoch 7 page_size 4096 drop 1 data 1 pages2\n",
	};
	for (unsigned i = 0; i < G_N_ELEMENTS(hdr_bad); i++) {
		/* the first line replaced, the rest kept */
		const char *nl = memchr(good->data, '\n', good->len);
		gsize first = (gsize)(nl - (const char *)good->data) + 1;
		g_autoptr(GByteArray) b = g_byte_array_new();
		g_byte_array_append(b, (const guint8 *)hdr_bad[i],
				    (guint)strlen(hdr_bad[i]));
		g_byte_array_append(b, good->data + first,
				    good->len - (guint)first);
		write_bytes(pack, b);
		char *err = NULL;
		const char *args[] = {"-p", pack, base, NULL};
		g_assert_cmpint(run_apply(args, &err), ==, 1);
		g_assert_nonnull(strstr(err, "not an sdfs pack"));
		g_free(err);
		check_pages(base, keep, 4);
	}
	/* lines: uppercase hex, misaligned, not ascending, pages that do
	 * not add up */
	const char *line_bad[][2] = {
		{"data 0000000000001000-0000000000003000",
		 "data 0000000000001000-0000000000003g00"},
		{"data 0000000000001000-0000000000003000",
		 "data 0000000000001000-0000000000003001"},
		{"drop 0000000000003000-0000000000004000",
		 "drop 0000000000003000-0000000000003000"},
	};
	for (unsigned i = 0; i < G_N_ELEMENTS(line_bad); i++) {
		g_autoptr(GByteArray) b = g_byte_array_new();
		g_byte_array_append(b, good->data, good->len);
		char *at = g_strstr_len((char *)b->data, (gssize)b->len,
					line_bad[i][0]);
		g_assert_nonnull(at);
		memcpy(at, line_bad[i][1], strlen(line_bad[i][1]));
		write_bytes(pack, b);
		const char *args[] = {"-p", pack, base, NULL};
		g_assert_cmpint(run_apply(args, NULL), ==, 1);
		check_pages(base, keep, 4);
	}
	g_autoptr(GByteArray) adj = make_pack(r, G_N_ELEMENTS(r), 1);
	write_bytes(pack, adj);
	const char *args[] = {"-p", pack, base, NULL};
	g_assert_cmpint(run_apply(args, NULL), ==, 1);
	check_pages(base, keep, 4);
	/* cut short, and a byte too many */
	g_autoptr(GByteArray) cut = g_byte_array_new();
	g_byte_array_append(cut, good->data, good->len - 1);
	write_bytes(pack, cut);
	char *err = NULL;
	g_assert_cmpint(run_apply(args, &err), ==, 1);
	g_assert_nonnull(strstr(err, "cut short"));
	g_free(err);
	g_autoptr(GByteArray) more = g_byte_array_new();
	g_byte_array_append(more, good->data, good->len);
	g_byte_array_append(more, (const guint8 *)"x", 1);
	write_bytes(pack, more);
	g_assert_cmpint(run_apply(args, &err), ==, 1);
	g_assert_nonnull(strstr(err, "bytes after the last page"));
	g_free(err);
	/* uppercase hex: the same stream in lowercase applies (BASE
	 * written afresh: the stream cut short wrote its first pages) */
	put_pages(base, 0, 4, 0x66);
	const struct prun up[] = {{10, 1, 0x44}};
	g_autoptr(GByteArray) upb = make_pack(up, 1, 0);
	char *at = g_strstr_len((char *)upb->data, (gssize)upb->len,
				"000000000000a000-000000000000b000");
	g_assert_nonnull(at);
	memcpy(at, "000000000000A000-000000000000B000", 33);
	write_bytes(pack, upb);
	g_assert_cmpint(run_apply(args, NULL), ==, 1);
	check_pages(base, keep, 4);
	memcpy(at, "000000000000a000-000000000000b000", 33);
	write_bytes(pack, upb);
	g_assert_cmpint(run_apply(args, NULL), ==, 0);
	put_pages(base, 0, 4, 0x66);
	g_assert_cmpint(truncate(base, 4 * B), ==, 0);
	/* data lines that overlap */
	const struct prun ov[] = {{1, 2, 0x33}, {4, 1, 0x34}};
	g_autoptr(GByteArray) ovb = make_pack(ov, 2, 0);
	at = g_strstr_len((char *)ovb->data, (gssize)ovb->len,
			  "data 0000000000004000-0000000000005000");
	g_assert_nonnull(at);
	memcpy(at, "data 0000000000002000-0000000000003000", 38);
	write_bytes(pack, ovb);
	g_assert_cmpint(run_apply(args, &err), ==, 1);
	g_assert_nonnull(strstr(err, "data line 2"));
	g_free(err);
	check_pages(base, keep, 4);
	/* a bad header creates no BASE */
	g_autofree char *none = path_of("none");
	write_bytes(pack, adj);
	const char *an[] = {"-p", pack, none, NULL};
	g_assert_cmpint(run_apply(an, NULL), ==, 1);
	g_assert_false(g_file_test(none, G_FILE_TEST_EXISTS));
	/* -p takes BASE alone */
	const char *u1[] = {"-p", pack, "-d", pack, base, NULL};
	g_assert_cmpint(run_apply(u1, NULL), ==, 2);
	const char *u2[] = {"-p", pack, pack, base, NULL};
	g_assert_cmpint(run_apply(u2, NULL), ==, 2);
	teardown();
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	apply_exe = g_getenv("SDFS_APPLY");
	if (!apply_exe) {
		printf("1..0 # SKIP SDFS_APPLY not set\n");
		return 0;
	}
	g_test_add_func("/apply/apply", test_apply);
	g_test_add_func("/apply/new-and-longer-base", test_new_and_longer_base);
	g_test_add_func("/apply/dropped-only", test_dropped_only);
	g_test_add_func("/apply/bad-input", test_bad_input);
	g_test_add_func("/apply/ranges", test_ranges);
	g_test_add_func("/apply/pack", test_pack);
	g_test_add_func("/apply/pack-bad", test_pack_bad);
	return g_test_run();
}
