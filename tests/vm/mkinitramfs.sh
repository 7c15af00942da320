#!/bin/bash
# mkinitramfs.sh — build a small initramfs (cpio.gz) that runs one command.
#
#   tests/vm/mkinitramfs.sh -o OUT.cpio.gz [--kernel-dir DIR [--module PATH]...]
#       [--add HOSTPATH[:GUESTPATH]]... [--env NAME=VALUE]...
#       [--marker WORD] [--base-only | --job-only] [--sysroot DIR]
#       [-- COMMAND ARGS...]
#
# The image holds busybox-static (every applet linked; /bin/sh is dash, see
# add_sh), the kernel's FUSE
# module and its dependencies (from a directory made by fetch-kernels.sh),
# the kernel's modules named with --module (paths relative to DIR/root, as
# fetch-kernels.sh --with-modules prints them; loaded after FUSE, in the
# order given), each --add path (a file, or a directory copied whole; a
# dynamically linked ELF file brings every shared library ldd lists, the
# dynamic loader included, at the host's paths; in a directory, the
# libraries the directory itself holds are preferred, so a tree unpacked
# from packages the host does not have brings its own) and an /init that:
#   mounts proc, sysfs, devtmpfs, devpts, tmpfs on /tmp /run /dev/shm;
#   prints the kernel version first; loads the FUSE module unless built in;
#   brings up lo; sets PATH, HOME and the hostname; exports the --env
#   variables; runs COMMAND in /root; prints "\nWORD=RC" on the console
#   (WORD defaults to SDFS-VM-EXIT) and powers off.
# Without a COMMAND, /init runs a shell on the console.
#
# --base-only leaves out the command (a reusable image) and --job-only makes
# only the command part: the kernel unpacks concatenated archives in order,
# so `cat base.cpio.gz job.cpio.gz` is a complete image. vm-run.sh uses this
# to cache the large part.
#
# The guest file system is the usrmerged layout of Debian (bin -> usr/bin,
# lib -> usr/lib, ...), so the host's paths work unchanged. A guest path
# that already exists is not overwritten by a busybox applet link: an --add
# of /usr/bin/mount replaces busybox's mount.
#
# --sysroot DIR builds for another architecture (the arm64 guest): busybox
# and dash come from DIR (an unpacked Debian root, see
# tests/vm/arm64/fetch-sysroot.sh), and the shared libraries of every
# dynamic ELF file are found in DIR from its program interpreter and NEEDED
# entries (readelf), not with the host's ldd; they go to the same path in
# the guest as in DIR. busybox's applet list is the host busybox's (the same
# Debian version; the foreign binary cannot run here).
#
# Needs: busybox-static, dash, cpio, gzip, ldd (libc-bin), readelf
# (binutils) with --sysroot; run as root (device nodes).

set -euo pipefail

BUSYBOX=${SDFS_VM_BUSYBOX:-/bin/busybox}
# The guest's root for another architecture (--sysroot); empty: the host's.
SYSROOT=

log() { printf 'mkinitramfs: %s\n' "$*" >&2; }
die() { printf 'mkinitramfs: error: %s\n' "$*" >&2; exit 1; }

# Quote $1 for sh: 'it'\''s'.
shquote() {
	local s=${1//\'/\'\\\'\'}
	printf "'%s'" "$s"
}

# --- the base part -------------------------------------------------------------

make_skeleton() {
	local st=$1 d
	for d in usr/bin usr/sbin usr/lib usr/lib64 etc dev proc sys tmp run root \
		mnt var etc/sdfs-vm; do
		mkdir -p "$st/$d"
	done
	ln -s usr/bin "$st/bin"
	ln -s usr/sbin "$st/sbin"
	ln -s usr/lib "$st/lib"
	ln -s usr/lib64 "$st/lib64"
	ln -s ../tmp "$st/var/tmp"
	ln -s ../run "$st/var/run"
	chmod 1777 "$st/tmp"
	chmod 0700 "$st/root"
	# The kernel opens /dev/console for init before anything is mounted.
	mknod -m 600 "$st/dev/console" c 5 1
	mknod -m 666 "$st/dev/null" c 1 3

	cat >"$st/etc/passwd" <<-'EOF'
		root:x:0:0:root:/root:/bin/sh
		nobody:x:65534:65534:nobody:/nonexistent:/bin/false
	EOF
	cat >"$st/etc/group" <<-'EOF'
		root:x:0:
		nogroup:x:65534:
	EOF
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$st/etc/hosts"
	# fusermount3 refuses allow_other for non-root users without this.
	echo user_allow_other >"$st/etc/fuse.conf"
	ln -s ../proc/self/mounts "$st/etc/mtab"
}

# Copy host file SRC to guest path DST inside the stage ST, following
# symlinks (the stage gets real files), creating parent directories.
put_file() {
	local st=$1 src=$2 dst=$3
	mkdir -p "$st/$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$st/$dst"
}

# Is $1 an ELF file that names a dynamic loader? ldd answers, and fails on
# static binaries and on non-ELF files. For a sysroot: does it have a
# program interpreter?
is_dynamic_elf() {
	[[ $(head -c 4 "$1" | od -An -c | tr -d ' ') == 177ELF ]] || return 1
	if [[ -n $SYSROOT ]]; then
		readelf -lW "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
		return
	fi
	ldd "$1" >/dev/null 2>&1
}

# Print every shared library file (host path) that ELF $1 needs, the
# dynamic loader included; linux-vdso has no file and is skipped. LDD_PATH:
# directories searched first (LD_LIBRARY_PATH for ldd alone).
elf_libs() {
	if [[ -n $SYSROOT ]]; then
		sysroot_libs "$1"
		return
	fi
	local env=()
	[[ -z ${LDD_PATH:-} ]] || env=("LD_LIBRARY_PATH=$LDD_PATH")
	env "${env[@]}" ldd "$1" | awk '
		$2 == "=>" && $3 ~ /^\// { print $3; next }
		$1 ~ /^\// { print $1 }
		/not found/ { print "MISSING " $1 }'
}

# The library directories of the sysroot, in the dynamic loader's order
# (Debian's multiarch paths, then the plain ones).
sysroot_libdirs() {
	local d
	for d in lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib; do
		[[ -d $SYSROOT/$d ]] && printf '%s\n' "$d"
	done
}

# ldd for a foreign ELF file: its interpreter and the transitive closure of
# its NEEDED entries, looked up in the sysroot. Prints host paths inside
# the sysroot (the guest path is the part after $SYSROOT), or "MISSING
# SONAME".
sysroot_libs() {
	local interp
	interp=$(readelf -lW "$1" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
	if [[ -n $interp ]]; then
		if [[ -e $SYSROOT$interp ]]; then
			printf '%s\n' "$SYSROOT$interp"
		else
			printf 'MISSING %s\n' "$interp"
		fi
	fi
	local -A seen=()
	local queue=("$1") f so d found
	local dirs
	mapfile -t dirs < <(sysroot_libdirs)
	while ((${#queue[@]})); do
		f=${queue[0]}
		queue=("${queue[@]:1}")
		while read -r so; do
			[[ -n $so && -z ${seen[$so]:-} ]] || continue
			seen[$so]=1
			found=
			for d in "${dirs[@]}"; do
				if [[ -e $SYSROOT/$d/$so ]]; then
					found=$SYSROOT/$d/$so
					break
				fi
			done
			if [[ -z $found ]]; then
				printf 'MISSING %s\n' "$so"
				continue
			fi
			printf '%s\n' "$found"
			queue+=("$found")
		done < <(readelf -dW "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p')
	done
}

# Add one host path (file or directory) at guest path GUEST, with the
# libraries of every dynamic ELF file in it.
add_path() {
	local st=$1 host=$2 guest=$3 f lib
	[[ -e $host ]] || die "--add $host: no such file"
	if [[ -d $host ]]; then
		# (find does not descend into a symlink named on its command line)
		host=$(readlink -f "$host")
		mkdir -p "$st/$guest"
		cp -a "$host/." "$st/$guest/"
		# ldd resolves against the directory's own libraries first; those
		# are in the image already (copied above).
		local libpath
		libpath=$(find "$host" -name '*.so*' \( -type f -o -type l \) -printf '%h\n' |
			LC_ALL=C sort -u | paste -sd:)
		while IFS= read -r -d '' f; do
			is_dynamic_elf "$f" && LDD_PATH=$libpath LDD_INSIDE=$host add_libs "$st" "$f"
		done < <(find "$host" -type f -perm -u+x -print0)
		return 0
	fi
	put_file "$st" "$host" "$guest"
	if is_dynamic_elf "$host"; then
		add_libs "$st" "$host"
	fi
}

add_libs() {
	local st=$1 elf=$2 lib guest
	while read -r lib; do
		[[ $lib != MISSING* ]] || die "$elf needs ${lib#MISSING }, which ${SYSROOT:-ldd} cannot find${SYSROOT:+ (add its package to tests/vm/arm64/fetch-sysroot.sh)}"
		# a library of the added directory itself is in the image already
		[[ -n ${LDD_INSIDE:-} && $lib == "$LDD_INSIDE"/* ]] && continue
		guest=${lib#"$SYSROOT"}
		[[ -e $st/$guest ]] || put_file "$st" "$lib" "$guest"
	done < <(elf_libs "$elf")
}

# /bin/sh is the host's dash, not busybox: Debian's busybox-static is built
# "standalone", so its ash runs its own applet for any name it knows,
# whatever PATH says (an added util-linux mount would never run from a
# script). dash is Essential on Debian, so it is always there.
add_sh() {
	local st=$1 dash=/usr/bin/dash
	[[ -e $st/usr/bin/sh ]] && return 0
	[[ -z $SYSROOT ]] || dash=$SYSROOT/bin/dash
	[[ -x $dash ]] || die "$dash not found: apt-get install dash"
	add_path "$st" "$dash" /usr/bin/dash
	ln -s dash "$st/usr/bin/sh"
}

add_busybox() {
	local st=$1 applet bb=$BUSYBOX
	[[ -z $SYSROOT ]] || bb=$SYSROOT/bin/busybox
	[[ -x $bb ]] || die "$bb not found: apt-get install busybox-static"
	is_dynamic_elf "$bb" && die "$bb is dynamically linked: install busybox-static"
	[[ -x $BUSYBOX ]] || die "$BUSYBOX not found: apt-get install busybox-static"
	put_file "$st" "$bb" /usr/bin/busybox
	# --list-full gives each applet's usual path (bin/ls, sbin/ifconfig, ...).
	while read -r applet; do
		[[ -e $st/$applet || -L $st/$applet ]] && continue
		mkdir -p "$st/$(dirname "$applet")"
		ln -s /usr/bin/busybox "$st/$applet"
	done < <("$BUSYBOX" --list-full)
}

# Copy the kernel's modules (fetch-kernels.sh's modules.load) to their usual
# place and list them, in load order, for /init.
add_kernel_modules() {
	local st=$1 kdir=$2 mod
	shift 2
	: >"$st/etc/sdfs-vm/modules"
	[[ -n $kdir ]] || return 0
	[[ -r $kdir/modules.load ]] || die "$kdir is not a kernel directory from fetch-kernels.sh"
	cp "$kdir/release" "$st/etc/sdfs-vm/release"
	while read -r mod; do
		[[ -n $mod ]] || continue
		put_file "$st" "$kdir/root/$mod" "/$mod"
		printf '/%s\n' "$mod" >>"$st/etc/sdfs-vm/modules"
	done < <(cat "$kdir/modules.load"; (($#)) && printf '%s\n' "$@")
}

write_init() {
	cat >"$1/init" <<-'EOF'
		#!/bin/sh
		# /init of the sdfs test VM (made by tests/vm/mkinitramfs.sh).
		export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		export HOME=/root TMPDIR=/tmp
		mount -t proc proc /proc
		mount -t sysfs sysfs /sys
		mount -t devtmpfs devtmpfs /dev
		mkdir -p /dev/pts /dev/shm
		mount -t devpts devpts /dev/pts
		mount -t tmpfs -o mode=1777 tmpfs /dev/shm
		mount -t tmpfs -o mode=1777 tmpfs /tmp
		mount -t tmpfs -o mode=0755 tmpfs /run
		# First line of every log: which kernel this is.
		echo "sdfs-vm: kernel $(uname -r) ($(uname -m)), $(grep -c ^processor /proc/cpuinfo) cpus, $(awk '/^MemTotal/ {print $2 " kB"}' /proc/meminfo)"
		while read -r mod; do
			[ -n "$mod" ] || continue
			insmod "$mod" || echo "sdfs-vm: insmod $mod failed"
		done </etc/sdfs-vm/modules
		[ -c /dev/fuse ] || echo "sdfs-vm: warning: no /dev/fuse"
		echo "sdfs-vm: thp $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null), swap $(awk '/^SwapTotal/ {print $2 " kB"}' /proc/meminfo), ptrace_scope $(cat /proc/sys/kernel/yama/ptrace_scope 2>/dev/null || echo -)"
		ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
		hostname sdfs-vm
		cd /root
		if [ -r /etc/sdfs-vm/job ]; then
			. /etc/sdfs-vm/job
			# A subshell, so that the job's exit or exec still comes back here.
			( sdfs_vm_job )
			rc=$?
		else
			SDFS_VM_MARKER=SDFS-VM-EXIT
			echo "sdfs-vm: no command; shell on the console, exit to power off"
			setsid cttyhack sh
			rc=$?
		fi
		sync
		printf '\n%s=%d\n' "$SDFS_VM_MARKER" "$rc"
		poweroff -f
		# Not reached; if it were, init's exit panics and panic=-1 resets.
		exit "$rc"
	EOF
	chmod 755 "$1/init"
}

# --- the job part --------------------------------------------------------------

# /etc/sdfs-vm/job: the marker, and a function that exports the variables
# and runs the command. Every word is single-quoted, so nothing in it is
# expanded twice.
write_job() {
	local st=$1 marker=$2
	shift 2
	local job=$st/etc/sdfs-vm/job kv name
	mkdir -p "$st/etc/sdfs-vm"
	{
		printf 'SDFS_VM_MARKER=%s\n' "$(shquote "$marker")"
		printf 'sdfs_vm_job() {\n'
		for kv in "${ENVS[@]}"; do
			name=${kv%%=*}
			printf '\texport %s=%s\n' "$name" "$(shquote "${kv#*=}")"
		done
		printf '\t'
		for kv in "$@"; do
			printf '%s ' "$(shquote "$kv")"
		done
		printf '\n}\n'
	} >"$job"
}

# Pack directory $1 into gzip-compressed newc cpio $2, owned by root.
pack() {
	(cd "$1" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --quiet) | gzip -n -6 >"$2"
}

work=
main() {
	local out="" kdir="" marker=SDFS-VM-EXIT mode=all
	local adds=() cmd=() mods=()
	ENVS=()
	while (($#)); do
		case $1 in
		-o | --output) out=$2; shift ;;
		--kernel-dir) kdir=$2; shift ;;
		--module)
			[[ $2 != /* && $2 != *..* && $2 == *.ko ]] || die "--module wants a .ko path relative to the kernel directory's root/, got '$2'"
			mods+=("$2"); shift ;;
		--add) adds+=("$2"); shift ;;
		--env)
			[[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env wants NAME=VALUE, got '$2'"
			ENVS+=("$2"); shift ;;
		--marker)
			[[ $2 =~ ^[A-Za-z0-9_.-]+$ ]] || die "--marker wants letters, digits, _ . -"
			marker=$2; shift ;;
		--base-only) mode=base ;;
		--job-only) mode=job ;;
		--sysroot)
			[[ -d $2 ]] || die "--sysroot $2: not a directory"
			SYSROOT=$(cd "$2" && pwd -P); shift ;;
		-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
		--) shift; cmd=("$@"); break ;;
		*) die "unknown argument '$1' (the command goes after --)" ;;
		esac
		shift
	done
	[[ -n $out ]] || die "-o OUT is required"
	[[ $mode != job || ${#cmd[@]} -gt 0 ]] || die "--job-only needs a command"
	[[ $(id -u) == 0 ]] || die "must run as root (device nodes in the image)"

	work=$(mktemp -d "${TMPDIR:-/tmp}/sdfs-initramfs.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	local parts=()

	if [[ $mode != job ]]; then
		local st=$work/base a host guest
		mkdir -p "$st"
		make_skeleton "$st"
		for a in "${adds[@]}"; do
			host=${a%%:*}
			guest=${a#*:}
			[[ $a == *:* ]] || guest=$host
			[[ $guest == /* ]] || die "--add $a: the guest path must be absolute"
			add_path "$st" "$host" "$guest"
		done
		add_sh "$st"
		add_busybox "$st"
		[[ -n $kdir || ${#mods[@]} -eq 0 ]] || die "--module needs --kernel-dir"
		add_kernel_modules "$st" "$kdir" "${mods[@]}"
		write_init "$st"
		pack "$st" "$work/base.cpio.gz"
		parts+=("$work/base.cpio.gz")
	fi
	if [[ $mode != base && ${#cmd[@]} -gt 0 ]]; then
		mkdir -p "$work/job"
		write_job "$work/job" "$marker" "${cmd[@]}"
		pack "$work/job" "$work/job.cpio.gz"
		parts+=("$work/job.cpio.gz")
	fi
	cat "${parts[@]}" >"$out.tmp"
	mv "$out.tmp" "$out"
}

main "$@"
