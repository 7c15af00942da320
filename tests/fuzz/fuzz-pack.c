/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fuzz sdfs-apply -p (tools/apply_pack.c): a last/pack stream may come
 * from another machine through a pipe. Whatever the bytes, apply_pack()
 * returns 0 or -errno, allocates by what the stream holds rather than
 * by what its first line claims, and on success has written or punched
 * no more page bytes than the stream carried.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "apply.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int in = memfd_create("pack", MFD_CLOEXEC);
	int out = memfd_create("base", MFD_CLOEXEC);
	struct stats st = {0};

	CHECK(in >= 0 && out >= 0);
	if (!apply_msgs) /* not the message of every bad stream */
		apply_msgs = fopen("/dev/null", "we");
	CHECK(apply_msgs);
	CHECK(write(in, data, size) == (ssize_t)size);
	CHECK(lseek(in, 0, SEEK_SET) == 0);
	int r = apply_pack("fuzz", in, &out, "base", false, &st);
	CHECK(r <= 0);
	if (r == 0)
		CHECK(st.written + st.zero_punched <= size);
	close(in);
	close(out);
	return 0;
}
