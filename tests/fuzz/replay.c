/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Replay runner: feeds files to a fuzz target's LLVMFuzzerTestOneInput
 * without libFuzzer, so the seed corpus (and any crash reproducer) runs in
 * every build, with any compiler.
 *
 *   replay-TARGET [--no-prefixes] PATH...
 *
 * A PATH that is a directory contributes every regular file in it, in name
 * order. Each file is fed whole and, unless --no-prefixes, also every
 * prefix of it (a cheap way to reach the truncated-input paths of every
 * parser). Exits non-zero if no file was found; an invariant failure
 * aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define PREFIX_MAX 16384 /* files up to this size are also fed by prefix */

static unsigned long nfiles, ninputs;
static bool prefixes = true;

static int feed_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t cap = 4096, len = 0;
	uint8_t *buf = malloc(cap);
	CHECK(buf);
	for (;;) {
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			CHECK(buf);
		}
		size_t r = fread(buf + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	fclose(f);

	/* an exact-size copy per call, so ASan sees over-reads */
	uint8_t *in = malloc(len ? len : 1);
	CHECK(in);
	memcpy(in, buf, len);
	LLVMFuzzerTestOneInput(in, len);
	ninputs++;
	if (prefixes && len <= PREFIX_MAX) {
		for (size_t l = 0; l < len; l++) {
			uint8_t *pre = malloc(l ? l : 1);
			CHECK(pre);
			memcpy(pre, buf, l);
			LLVMFuzzerTestOneInput(pre, l);
			free(pre);
			ninputs++;
		}
	}
	free(in);
	free(buf);
	nfiles++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int feed_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return feed_file(path);

	DIR *d = opendir(path);
	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = realloc(names, cap * sizeof(*names));
			CHECK(names);
		}
		names[n] = strdup(e->d_name);
		CHECK(names[n]);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(path) + strlen(names[i]) + 2;
		char *full = malloc(l);
		CHECK(full);
		snprintf(full, l, "%s/%s", path, names[i]);
		if (stat(full, &st) == 0 && S_ISREG(st.st_mode) &&
		    feed_file(full) < 0)
			ret = -1;
		free(full);
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-prefixes")) {
			prefixes = false;
			continue;
		}
		if (feed_path(argv[i]) < 0)
			ret = 1;
	}
	printf("replay: %lu files, %lu inputs\n", nfiles, ninputs);
	if (!nfiles) {
		fprintf(stderr, "replay: no input files\n");
		return 1;
	}
	return ret;
}
