/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The same snapshot loop as the rsync recipe, kept as one image file by
 * `sdfs-apply -p last/pack BASE` every round (sdfs-apply(1)). After the
 * last round of the stopped process, BASE must hold exactly what SNAP/
 * holds -- the rsync snapshot that tl_snap_check() compared with the
 * process's memory -- and zeros everywhere else.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exact.h"
#include "harness.h"

#define TMPFS_MAGIC 0x01021994

char *pack_base_dir(void)
{
	struct statfs sf;
	if (statfs("/dev/shm", &sf) < 0 || sf.f_type != TMPFS_MAGIC)
		return NULL;
	char *d = g_strdup("/dev/shm/sdfs-exact-pack-XXXXXX");
	if (!g_mkdtemp(d)) {
		g_free(d);
		return NULL;
	}
	return d;
}

int pack_apply(const char *apply, const char *last, const char *base)
{
	g_autofree char *pack = g_build_filename(last, "pack", NULL);
	const char *argv[] = {apply, "-p", pack, base, NULL};
	g_autofree char *err = NULL;
	g_autoptr(GError) e = NULL;
	int status = -1;

	if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_CLOEXEC_PIPES,
			  NULL, NULL, NULL, &err, &status, &e))
		g_error("%s: %s", apply, e->message);
	if (!g_spawn_check_wait_status(status, NULL)) {
		g_test_message("sdfs-apply -p: %.600s", err ? err : "");
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
	}
	return 0;
}

void pack_check(const char *base, const char *snap)
{
	g_autoptr(GPtrArray) names = list_dir(snap);
	g_autoptr(GHashTable) in_snap = g_hash_table_new_full(
		g_int64_hash, g_int64_equal, g_free, NULL);
	guint8 *a = g_malloc(tl_ps), *b = g_malloc(tl_ps);
	guint differ = 0, extra = 0, same = 0;
	int fd = open(base, O_RDONLY);

	g_assert_nonnull(names);
	if (fd < 0) {
		exact_fail("cannot open %s: %s", base, g_strerror(errno));
		goto out;
	}
	for (guint i = 0; i < names->len; i++) {
		const char *n = names->pdata[i];
		char *end;
		gint64 *addr = g_new(gint64, 1);
		*addr = (gint64)g_ascii_strtoull(n, &end, 16);
		g_hash_table_add(in_snap, addr);
		g_autofree char *p = g_build_filename(snap, n, NULL);
		int pf = open(p, O_RDONLY);
		g_assert_no_errno(pf);
		g_assert_cmpint(pread(pf, a, tl_ps, 0), ==, (ssize_t)tl_ps);
		close(pf);
		ssize_t got = pread(fd, b, tl_ps, (off_t)*addr);
		if (got < (ssize_t)tl_ps)
			memset(b + (got > 0 ? got : 0), 0,
			       tl_ps - (gsize)(got > 0 ? got : 0));
		if (memcmp(a, b, tl_ps)) {
			if (differ++ < 5)
				g_test_message("BASE differs from SNAP/%s", n);
		} else {
			same++;
		}
	}
	/* BASE's data outside SNAP/: zeros only */
	for (off_t off = 0;;) {
		off_t d = lseek(fd, off, SEEK_DATA);
		if (d < 0)
			break;
		off_t h = lseek(fd, d, SEEK_HOLE);
		g_assert_cmpint(h, >, d);
		for (off_t p = d - d % (off_t)tl_ps; p < h; p += (off_t)tl_ps) {
			gint64 k = (gint64)p;
			if (g_hash_table_contains(in_snap, &k))
				continue;
			g_assert_cmpint(pread(fd, b, tl_ps, p), >=, 0);
			if (!tl_all_zero(b, tl_ps) && extra++ < 5)
				g_test_message("BASE holds data at %" PRIx64
					       " that SNAP/ does not",
					       (guint64)p);
		}
		off = h;
	}
	g_test_message("sdfs-apply -p image: %u pages equal SNAP/, %u differ, "
		       "%u pages of data outside it",
		       same, differ, extra);
	if (differ || extra)
		exact_fail("the image built by sdfs-apply -p is not the "
			   "snapshot: %u pages differ, %u pages of data "
			   "not in it",
			   differ, extra);
	close(fd);
out:
	g_free(a);
	g_free(b);
}
