/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The node table (nodes.h). */
#include <errno.h>
#include <string.h>

#include "nodes.h"

#define DIR_MODE (S_IFDIR | 0555)
#define READ_ONLY (S_IFREG | 0444)
#define OWNER_ONLY (S_IFREG | 0400)

/* Children of a directory are listed in the order of their rows. */
static const struct sdfs_kind_info table[SDFS_K_MAX] = {
	[SDFS_K_ROOT] = {.mode = DIR_MODE, .dir = &sdfs_dir_root},
	[SDFS_K_PIDDIR] = {.parent = SDFS_K_ROOT,
			   .mode = DIR_MODE,
			   .access = SDFS_ACCESS_READ,
			   .dir = &sdfs_dir_fixed},
	[SDFS_K_CLEAR] = {.name = "clear",
			  .parent = SDFS_K_PIDDIR,
			  .mode = S_IFREG | 0600,
			  .access = SDFS_ACCESS_ATTACH,
			  .file = &sdfs_file_clear},
	[SDFS_K_DIRTY] = {.name = "dirty_ranges",
			  .parent = SDFS_K_PIDDIR,
			  .mode = READ_ONLY,
			  .access = SDFS_ACCESS_READ,
			  .file = &sdfs_file_dirty},
	[SDFS_K_PAGES] = {.name = "pages",
			  .parent = SDFS_K_PIDDIR,
			  .mode = DIR_MODE,
			  .access = SDFS_ACCESS_ATTACH,
			  .dir = &sdfs_dir_pages},
	[SDFS_K_LAST] = {.name = "last",
			 .parent = SDFS_K_PIDDIR,
			 .mode = DIR_MODE,
			 .access = SDFS_ACCESS_READ,
			 .dir = &sdfs_dir_fixed},
	[SDFS_K_STATUS] = {.name = "status",
			   .parent = SDFS_K_PIDDIR,
			   .mode = READ_ONLY,
			   .access = SDFS_ACCESS_READ,
			   .file = &sdfs_file_status},
	[SDFS_K_LAST_DIRTY] = {.name = "dirty_ranges",
			       .parent = SDFS_K_LAST,
			       .mode = READ_ONLY,
			       .access = SDFS_ACCESS_READ,
			       .file = &sdfs_file_last_dirty},
	[SDFS_K_LAST_DROPPED] = {.name = "dropped_ranges",
				 .parent = SDFS_K_LAST,
				 .mode = READ_ONLY,
				 .access = SDFS_ACCESS_READ,
				 .file = &sdfs_file_last_dropped},
	[SDFS_K_LAST_CHANGES] = {.name = "changes",
				 .parent = SDFS_K_LAST,
				 .mode = READ_ONLY,
				 .access = SDFS_ACCESS_READ,
				 .cache = true,
				 .attr = sdfs_last_changes_attr,
				 .file = &sdfs_file_last_changes},
	[SDFS_K_LAST_MAPS] = {.name = "maps",
			      .parent = SDFS_K_LAST,
			      .mode = READ_ONLY,
			      .access = SDFS_ACCESS_READ,
			      .file = &sdfs_file_last_maps},
	[SDFS_K_LAST_PAGES] = {.name = "pages",
			       .parent = SDFS_K_LAST,
			       .mode = DIR_MODE,
			       .access = SDFS_ACCESS_ATTACH,
			       /* its attributes (mode, owner) are checked at
			        * every name looked up in it: keep them */
			       .cache = true,
			       .dir = &sdfs_dir_last_pages},
	[SDFS_K_LAST_IMAGE] = {.name = "image",
			       .parent = SDFS_K_LAST,
			       .mode = OWNER_ONLY,
			       .access = SDFS_ACCESS_ATTACH,
			       .attr = sdfs_last_image_attr,
			       .file = &sdfs_file_last_image},
	[SDFS_K_LAST_PACK] = {.name = "pack",
			      .parent = SDFS_K_LAST,
			      .mode = OWNER_ONLY,
			      .access = SDFS_ACCESS_ATTACH,
			      .attr = sdfs_last_pack_attr,
			      .file = &sdfs_file_last_pack},
	[SDFS_K_PAGE] = {.parent = SDFS_K_PAGES,
			 .mode = OWNER_ONLY,
			 .access = SDFS_ACCESS_ATTACH,
			 .file = &sdfs_file_page},
	[SDFS_K_LAST_PAGE] = {.parent = SDFS_K_LAST_PAGES,
			      .mode = OWNER_ONLY,
			      .access = SDFS_ACCESS_ATTACH,
			      .cache = true,
			      .attr = sdfs_last_page_attr,
			      .file = &sdfs_file_last_page},
};

const struct sdfs_kind_info *sdfs_kind(enum sdfs_kind k)
{
	return (unsigned)k < SDFS_K_MAX && table[k].mode ? &table[k] : NULL;
}

const char *sdfs_kind_name(enum sdfs_kind k)
{
	const struct sdfs_kind_info *i = sdfs_kind(k);
	return i ? i->name : NULL;
}

int sdfs_kind_child(enum sdfs_kind parent, const char *name)
{
	for (int k = 0; k < SDFS_K_MAX; k++)
		if (table[k].name && table[k].parent == parent &&
		    strcmp(table[k].name, name) == 0)
			return k;
	return -ENOENT;
}

bool sdfs_kind_is_dir(enum sdfs_kind k)
{
	const struct sdfs_kind_info *i = sdfs_kind(k);
	return i && i->dir;
}
