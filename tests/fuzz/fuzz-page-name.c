/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fuzz sdfs_parse_page_name: a file name looked up under pages/. Exactly
 * 1..16 hex digits (either case, no 0x) are accepted (sdfs(5)). */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "fuzz.h"
#include "proc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *name = fuzz_dup_cstr(data, size);
	size_t len = strlen(name);
	uint64_t addr = 0x1234, v = 0;
	int r = sdfs_parse_page_name(name, &addr);

	bool ok = len >= 1 && len <= 16;
	for (size_t i = 0; ok && i < len; i++) {
		if (!fuzz_ishex((unsigned char)name[i]))
			ok = false;
		else
			v = (v << 4) | fuzz_hexval((unsigned char)name[i]);
	}

	if (ok) {
		CHECK(r == 0);
		CHECK(addr == v);
		/* the rendered name (16 digits) and the short one give back
		 * the same address */
		char full[17], shrt[17];
		uint64_t a2 = 0, a3 = 0;
		snprintf(full, sizeof(full), "%016" PRIx64, addr);
		snprintf(shrt, sizeof(shrt), "%" PRIx64, addr);
		CHECK(sdfs_parse_page_name(full, &a2) == 0 && a2 == addr);
		CHECK(sdfs_parse_page_name(shrt, &a3) == 0 && a3 == addr);
		if (len == 16) {
			/* case-insensitive equal to the rendered name */
			for (size_t i = 0; i < 16; i++)
				CHECK((name[i] | 0x20) == full[i] ||
				      name[i] == full[i]);
		}
	} else {
		CHECK(r == -ENOENT);
		CHECK(addr == 0x1234); /* untouched */
	}
	free(name);
	return 0;
}
