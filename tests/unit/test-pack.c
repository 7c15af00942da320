/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for mountd/pack.c: last/pack's layout and reads against a
 * stream built here line by line and page by page from the same sets;
 * every read, at any offset and length, must be that stream's bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "pack.h"
#include "ranges.h"

#define PS 4096u
#define BASE 0x7f0000000000ull

/* The memory of a fake process: a byte pattern of the address; pages
 * whose number is in gone[] cannot be read (zeros). */
struct fake {
	uint64_t gone_page; /* one page that is gone, 0: none */
	unsigned readv_calls;
	int fatal;
};

static uint8_t pattern(uint64_t addr)
{
	return (uint8_t)((addr >> 12) * 31 + (addr & 0xff) * 3 + 1);
}

static ssize_t fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;
	uint8_t *b = buf;
	size_t n = 0;

	if (f->fatal)
		return f->fatal;
	for (; n < len; n++) {
		if (f->gone_page && (addr + n) / PS == f->gone_page / PS)
			break;
		b[n] = pattern(addr + n);
	}
	return n ? (ssize_t)n : -EFAULT;
}

static ssize_t fake_readv(void *ctx, const struct sdfs_image_piece *pc,
			  size_t n)
{
	struct fake *f = ctx;
	size_t got = 0;

	f->readv_calls++;
	for (size_t i = 0; i < n; i++) {
		ssize_t r = fake_read(ctx, pc[i].addr, pc[i].out, pc[i].len);
		if (r < 0 && got)
			break;
		if (r < 0)
			return r;
		got += (size_t)r;
		if ((size_t)r < pc[i].len)
			break;
	}
	return (ssize_t)got;
}

static struct sdfs_image_reader reader(struct fake *f)
{
	return (struct sdfs_image_reader){.vm_read = fake_read,
					  .mem_read = fake_read,
					  .vm_readv = fake_readv,
					  .ctx = f};
}

/* A set of n runs from a seed: page gaps and lengths. */
static void random_set(struct sdfs_dirtyset *s, GRand *rng, size_t n,
		       int maxlen)
{
	uint64_t page = (uint64_t)g_rand_int_range(rng, 0, 4);
	struct sdfs_vma v = {
		.start = BASE, .end = BASE + (1ull << 40), .path = ""};

	g_strlcpy(v.perms, "rw-p", sizeof(v.perms));
	sdfs_dirtyset_init(s);
	g_assert_cmpint(sdfs_dirtyset_add_vma(s, &v), ==, 0);
	for (size_t i = 0; i < n; i++) {
		uint64_t len = (uint64_t)g_rand_int_range(rng, 1, maxlen + 1);
		g_assert_cmpint(sdfs_dirtyset_add(s, 0, BASE + page * PS,
						  BASE + (page + len) * PS),
				==, 0);
		page += len + (uint64_t)g_rand_int_range(rng, 1, 6);
	}
}

/* The whole stream, written the plain way. */
static GByteArray *model(const struct sdfs_dirtyset *data,
			 const struct sdfs_dirtyset *drop, uint64_t epoch,
			 const struct fake *f)
{
	g_autoptr(GString) t = g_string_new(NULL);
	struct sdfs_run_iter it;
	struct sdfs_run r;

	g_string_append_printf(t,
			       "sdfs-pack 1 epoch %" PRIu64 " page_size %u "
			       "drop %zu data %zu pages %" PRIu64 "\n",
			       epoch, PS, drop->n, data->n, data->pages);
	sdfs_dirtyset_iter(drop, &it);
	while (sdfs_run_iter_next(&it, &r))
		g_string_append_printf(t,
				       "drop %016" PRIx64 "-%016" PRIx64 "\n",
				       r.start, r.end);
	sdfs_dirtyset_iter(data, &it);
	while (sdfs_run_iter_next(&it, &r))
		g_string_append_printf(t,
				       "data %016" PRIx64 "-%016" PRIx64 "\n",
				       r.start, r.end);
	GByteArray *b = g_byte_array_new();
	g_byte_array_append(b, (const guint8 *)t->str, (guint)t->len);
	sdfs_dirtyset_iter(data, &it);
	while (sdfs_run_iter_next(&it, &r))
		for (uint64_t a = r.start; a < r.end; a++) {
			guint8 c = f->gone_page && a / PS == f->gone_page / PS
					   ? 0
					   : pattern(a);
			g_byte_array_append(b, &c, 1);
		}
	return b;
}

static void check_range(const struct sdfs_pack *p, struct fake *f,
			const GByteArray *want, uint64_t off, size_t len)
{
	struct sdfs_image_reader rd = reader(f);
	g_autofree guint8 *buf = g_malloc(len + 1);

	memset(buf, 0xee, len + 1);
	ssize_t n = sdfs_pack_read(p, &rd, off, buf, len);
	size_t exp = off >= want->len ? 0 : MIN(len, want->len - off);
	g_assert_cmpint(n, ==, (ssize_t)exp);
	if (exp && memcmp(buf, want->data + off, exp)) {
		for (size_t i = 0; i < exp; i++)
			if (buf[i] != want->data[off + i])
				g_error("byte %" PRIu64 " of the stream: %#x, "
					"want %#x",
					off + i, buf[i], want->data[off + i]);
	}
	g_assert_cmpuint(buf[exp], ==, 0xee);
}

/* Before the first clear: the first line alone. */
static void test_empty(void)
{
	struct sdfs_dirtyset e;
	struct sdfs_pack p;
	struct fake f = {0};
	struct sdfs_image_reader rd = reader(&f);
	char buf[200];

	sdfs_dirtyset_init(&e);
	g_assert_cmpint(sdfs_pack_init(&p, &e, &e, 0, PS), ==, 0);
	const char *want = "sdfs-pack 1 epoch 0 page_size 4096 drop 0 data 0 "
			   "pages 0\n";
	g_assert_cmpuint(p.size, ==, strlen(want));
	g_assert_cmpuint(sdfs_pack_size(&e, &e, 0, PS), ==, strlen(want));
	g_assert_cmpint(sdfs_pack_read(&p, &rd, 0, buf, sizeof(buf)), ==,
			(ssize_t)strlen(want));
	g_assert_cmpmem(buf, strlen(want), want, strlen(want));
	g_assert_cmpint(sdfs_pack_read(&p, &rd, p.size, buf, 10), ==, 0);
	g_assert_cmpuint(f.readv_calls, ==, 0);
	sdfs_pack_free(&p);
	sdfs_dirtyset_free(&e);
}

/* Random sets (more runs than between two marks), read whole, in large
 * pieces and at random places. */
static void test_random(void)
{
	GRand *rng = g_rand_new_with_seed(77);

	for (int round = 0; round < 12; round++) {
		struct sdfs_dirtyset data, drop;
		struct sdfs_pack p;
		struct fake f = {0};
		size_t nd = (size_t)g_rand_int_range(rng, 0, 300);
		size_t nx = (size_t)g_rand_int_range(rng, 0, 200);
		random_set(&data, rng, nd, round % 3 ? 3 : 40);
		random_set(&drop, rng, nx, 5);
		if (round % 4 == 1 && data.n) /* one page gone */
			f.gone_page = BASE + 5 * PS;
		uint64_t epoch = (uint64_t)round * 1000;
		g_autoptr(GByteArray) want = model(&data, &drop, epoch, &f);
		g_assert_cmpint(sdfs_pack_init(&p, &data, &drop, epoch, PS), ==,
				0);
		g_assert_cmpuint(p.size, ==, want->len);
		g_assert_cmpuint(sdfs_pack_size(&data, &drop, epoch, PS), ==,
				 want->len);
		check_range(&p, &f, want, 0, want->len + 100);
		for (uint64_t off = 0; off < want->len; off += 1u << 20)
			check_range(&p, &f, want, off, 1u << 20);
		for (int k = 0; k < 200; k++) {
			uint64_t off = (uint64_t)g_rand_int_range(
				rng, 0, (gint32)want->len + 50);
			size_t len = (size_t)g_rand_int_range(rng, 0,
							      (gint32)(9 * PS));
			check_range(&p, &f, want, off, len);
		}
		/* every offset around the end of the header */
		for (uint64_t off = p.header_len > 45 ? p.header_len - 45 : 0;
		     off < p.header_len + 5; off++)
			check_range(&p, &f, want, off, 100);
		sdfs_pack_free(&p);
		sdfs_dirtyset_free(&data);
		sdfs_dirtyset_free(&drop);
	}
	g_rand_free(rng);
}

/* The pages of a 1 MiB read of single-page runs: one vm_readv. */
static void test_one_call(void)
{
	struct sdfs_dirtyset data, drop;
	struct sdfs_pack p;
	struct fake f = {0};
	struct sdfs_image_reader rd = reader(&f);
	GRand *rng = g_rand_new_with_seed(5);

	random_set(&data, rng, 1000, 1);
	sdfs_dirtyset_init(&drop);
	g_assert_cmpint(sdfs_pack_init(&p, &data, &drop, 1, PS), ==, 0);
	g_autofree char *buf = g_malloc(256 * PS);
	g_assert_cmpint(sdfs_pack_read(&p, &rd, p.header_len, buf, 256 * PS),
			==, 256 * PS);
	g_assert_cmpuint(f.readv_calls, ==, 1);
	/* a fatal error of the reader is the read's */
	f.fatal = -ESRCH;
	g_assert_cmpint(sdfs_pack_read(&p, &rd, p.header_len, buf, PS), ==,
			-ESRCH);
	/* the header needs no reader */
	g_assert_cmpint(sdfs_pack_read(&p, &rd, 0, buf, (size_t)p.header_len),
			==, (ssize_t)p.header_len);
	sdfs_pack_free(&p);
	sdfs_dirtyset_free(&data);
	sdfs_dirtyset_free(&drop);
	g_rand_free(rng);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/pack/empty", test_empty);
	g_test_add_func("/pack/random", test_random);
	g_test_add_func("/pack/one-call", test_one_call);
	return g_test_run();
}
