/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz sdfs_kind_child: names looked up inside a PID directory or last/. */
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "inode.h"

static const struct {
	enum sdfs_kind parent;
	const char *name;
	enum sdfs_kind kind;
} valid[] = {
	{SDFS_K_PIDDIR, "clear", SDFS_K_CLEAR},
	{SDFS_K_PIDDIR, "dirty_ranges", SDFS_K_DIRTY},
	{SDFS_K_PIDDIR, "pages", SDFS_K_PAGES},
	{SDFS_K_PIDDIR, "last", SDFS_K_LAST},
	{SDFS_K_PIDDIR, "status", SDFS_K_STATUS},
	{SDFS_K_LAST, "dirty_ranges", SDFS_K_LAST_DIRTY},
	{SDFS_K_LAST, "dropped_ranges", SDFS_K_LAST_DROPPED},
	{SDFS_K_LAST, "changes", SDFS_K_LAST_CHANGES},
	{SDFS_K_LAST, "maps", SDFS_K_LAST_MAPS},
	{SDFS_K_LAST, "pages", SDFS_K_LAST_PAGES},
	{SDFS_K_LAST, "image", SDFS_K_LAST_IMAGE},
	{SDFS_K_LAST, "pack", SDFS_K_LAST_PACK},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = fuzz_dup_cstr(data, size);

	for (int parent = 0; parent <= SDFS_K_MAX; parent++) {
		int want = -ENOENT;
		for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
			if (valid[i].parent == (enum sdfs_kind)parent &&
			    !strcmp(valid[i].name, name))
				want = (int)valid[i].kind;
		int r = sdfs_kind_child((enum sdfs_kind)parent, name);
		CHECK(r == want);
		if (r >= 0) {
			CHECK(!strcmp(sdfs_kind_name((enum sdfs_kind)r), name));
			CHECK(sdfs_kind_is_dir((enum sdfs_kind)r) ==
			      (r == SDFS_K_PAGES || r == SDFS_K_LAST ||
			       r == SDFS_K_LAST_PAGES));
		}
	}
	free(name);
	return 0;
}
