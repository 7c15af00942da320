#!/bin/bash
# vm-run.sh — run one command in a throwaway VM booting a Debian kernel.
#
#   tests/vm/vm-run.sh --kernel 6.1|6.12 [--arch amd64|arm64]
#       [--add HOSTPATH[:GUESTPATH]]... [--env NAME=VALUE]...
#       [--module NAME]... [--timeout SECONDS] [--accel auto|kvm|tcg]
#       [--smp N] [--no-tools] -- COMMAND ARGS...
#
# Fetches the kernel (fetch-kernels.sh), builds an initramfs with the added
# files (mkinitramfs.sh; the large part is cached by content), boots it in
# qemu-system-x86_64 with 2 GiB of memory, no swap and 2 CPUs (--smp N: N),
# streams the guest console to stdout and exits with the guest command's
# exit code as soon as qemu exits (or SDFS_VM_EXIT_GRACE seconds after the
# code came, if qemu stays). If the command never reports one (panic,
# hang, timeout) it says why and exits 1.
#
# --module NAME loads the kernel's module NAME (and what it depends on) at
# boot, after FUSE; a module built into the kernel is skipped, one the
# kernel package does not have is an error.
#
# Unless --no-tools is given the guest also gets the host's rsync, GNU cp,
# fusermount3, mount.fuse3 and util-linux mount/umount; /bin/sh is dash and
# busybox provides the rest (cmp, ls, cat, du, mktemp, sleep, kill, ...).
#
# --arch arm64 boots bookworm-backports' 6.12 cloud-arm64 kernel (--kernel
# 6.12 only) in qemu-system-aarch64 -M virt -cpu max under TCG; busybox,
# dash, the tools above and every shared library come from the arm64
# sysroot of tests/vm/arm64/fetch-sysroot.sh, so the added programs must be
# arm64 ones (tests/vm/arm64/cross-build.sh).
#
# Environment:
#   SDFS_VM_ACCEL   auto (default): KVM when /dev/kvm works, else TCG; or kvm, tcg
#   SDFS_VM_CACHE   cache directory (default /var/tmp/sdfs-vm-cache)
#   SDFS_VM_QEMU_ARGS  extra qemu arguments (split on spaces)
#   SDFS_VM_APPEND  extra kernel command line
#   SDFS_VM_EXIT_GRACE  seconds qemu gets to exit by itself once the guest's
#                   exit code is on the console (default 10); then killed
#
# Needs: qemu-system-x86, qemu-system-arm for arm64 (and what
# fetch-kernels.sh and mkinitramfs.sh need).

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${SDFS_VM_CACHE:-/var/tmp/sdfs-vm-cache}
QEMU=${SDFS_VM_QEMU:-}
# amd64 (the host's binaries) or arm64 (--arch); SYSROOT: the arm64 root.
ARCH=amd64
SYSROOT=

log() { printf 'vm-run: %s\n' "$*" >&2; }
die() { printf 'vm-run: error: %s\n' "$*" >&2; exit 1; }

# Host tools the integration tests and the README demo use in the guest.
# One line per tool, HOSTPATH:GUESTPATH.
default_tools() {
	local t triplet=x86_64-linux-gnu
	[[ $ARCH == amd64 ]] || triplet=aarch64-linux-gnu
	# mount(8) looks for mount.fuse.sdfs, then mount.fuse (a link to
	# mount.fuse3 in Debian's fuse3).
	# libgcc_s: glibc loads it at run time for pthread_cancel (the FUSE
	# session loop's shutdown), so ldd does not list it
	# GNU cp: the last/image tests copy with --sparse=always (busybox's
	# cp has no --sparse)
	for t in /usr/bin/rsync /usr/bin/cp /usr/bin/fusermount3 /usr/sbin/mount.fuse3 \
		/usr/sbin/mount.fuse /usr/bin/mount /usr/bin/umount \
		"/usr/lib/$triplet/libgcc_s.so.1"; do
		if [[ -z $SYSROOT ]]; then
			[[ -e $t ]] || die "$t is missing on the host (apt-get install rsync fuse3 mount)"
			printf '%s:%s\n' "$t" "$t"
		# The sysroot's packages are not usrmerged: /bin/mount is there.
		elif [[ -e $SYSROOT$t ]]; then
			printf '%s:%s\n' "$SYSROOT$t" "$t"
		elif [[ -e $SYSROOT${t#/usr} ]]; then
			printf '%s:%s\n' "$SYSROOT${t#/usr}" "$t"
		else
			die "$t is missing in the $ARCH sysroot $SYSROOT (tests/vm/arm64/fetch-sysroot.sh)"
		fi
	done
}

# Is KVM usable here? Sets KVM_WHY to the reason when it is not.
KVM_WHY=
kvm_usable() {
	if [[ ! -e /dev/kvm ]]; then
		KVM_WHY="no /dev/kvm"
		return 1
	fi
	if [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
		KVM_WHY="/dev/kvm is not read-writable for $(id -un)"
		return 1
	fi
	# kvm-pvm is the software "pagetable-based" KVM of nested cloud VMs
	# without hardware virtualization. Measured on such a machine: a Debian
	# 6.1 guest printed nothing in 90 s (every page table write traps), and
	# with cx16 the host gave up emulating cmpxchg16b (KVM internal error).
	# TCG boots the same guest in under 10 s.
	if [[ -d /sys/module/kvm_pvm ]]; then
		KVM_WHY="/dev/kvm is kvm-pvm (nested, software paging): far slower than TCG for these guests"
		return 1
	fi
	# Open /dev/kvm through qemu itself: a machine with no devices that
	# quits at once takes a few milliseconds.
	if ! echo quit | timeout 20 "$QEMU" -M none -accel kvm -nodefaults -display none \
		-monitor stdio >/dev/null 2>&1; then
		KVM_WHY="qemu cannot start with -accel kvm"
		return 1
	fi
}

# Print the content key of the base image: everything that goes into it.
# Hashing the files is cheap next to a boot (a few MB).
base_key() {
	local kdir=$1
	shift
	{
		sha256sum "$HERE/mkinitramfs.sh"
		cat "$kdir/package"
		local mod
		while read -r mod; do
			[[ -n $mod ]] && sha256sum "$kdir/root/$mod"
		done < <(cat "$kdir/modules.load"; ((${#MODS[@]})) && printf '%s\n' "${MODS[@]}")
		local a host f
		for a in "$@"; do
			printf 'add %s\n' "$a"
			host=${a%%:*}
			if [[ -d $host ]]; then
				(cd "$host" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
			elif [[ -e $host ]]; then
				sha256sum <"$host"
				# Libraries too: a host upgrade must not leave stale ones.
				if ldd "$host" >/dev/null 2>&1; then
					ldd "$host" | awk '$3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
						while read -r f; do sha256sum "$f"; done
				fi
			fi
		done
		# A sysroot's libraries, busybox and dash are its packages.
		if [[ -n $SYSROOT ]]; then
			printf 'sysroot %s\n' "$SYSROOT"
			cat "$SYSROOT/packages"
		fi
		sha256sum "${SDFS_VM_BUSYBOX:-/bin/busybox}" /usr/bin/dash
	} | sha256sum | cut -c1-32
}

# Build (or reuse) the base image; print its path.
base_image() {
	local kdir=$1
	shift
	local key dir=$CACHE/initramfs
	key=$(base_key "$kdir" "$@")
	mkdir -p "$dir"
	local img=$dir/$key.cpio.gz
	if [[ ! -s $img ]]; then
		local args=(-o "$img.$$" --kernel-dir "$kdir" --base-only) a
		[[ -z $SYSROOT ]] || args+=(--sysroot "$SYSROOT")
		for a in "$@"; do args+=(--add "$a"); done
		for a in "${MODS[@]}"; do args+=(--module "$a"); done
		"$HERE/mkinitramfs.sh" "${args[@]}"
		mv "$img.$$" "$img"
		# Keep the cache small: the newest few images.
		find "$dir" -name '*.cpio.gz' -printf '%T@ %p\n' | sort -rn |
			tail -n +9 | cut -d' ' -f2- | xargs -r rm -f
	else
		touch "$img"
	fi
	printf '%s\n' "$img"
}

# Seconds qemu gets to exit by itself once the guest's command reported
# its exit code (the guest then syncs and powers off: well under 1 s).
QEMU_EXIT_GRACE=${SDFS_VM_EXIT_GRACE:-10}

# Is child $1 still running? A child that exited stays a zombie (state Z)
# until it is waited for.
qemu_alive() {
	local st
	{ read -r st <"/proc/$1/stat"; } 2>/dev/null || return 1
	st=${st##*) }
	[[ ${st%% *} != [ZX] ]]
}

QEMU_PID=
WORK=
MODS=()
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	[[ -n $QEMU_PID ]] && kill "$QEMU_PID" 2>/dev/null
	[[ -n $WORK ]] && rm -rf "$WORK"
	return 0
}

main() {
	local kernel="" timeout=540 accel=${SDFS_VM_ACCEL:-auto} tools=1 smp=2
	local adds=() envs=() cmd=() modnames=()
	while (($#)); do
		case $1 in
		--kernel) kernel=$2; shift ;;
		--arch) ARCH=$2; shift ;;
		--module)
			[[ $2 =~ ^[A-Za-z0-9_-]+$ ]] || die "--module wants a module name, got '$2'"
			modnames+=("$2"); shift ;;
		--add) adds+=("$2"); shift ;;
		--env) envs+=(--env "$2"); shift ;;
		--timeout) timeout=$2; shift ;;
		--accel) accel=$2; shift ;;
		--smp)
			[[ $2 =~ ^[1-8]$ ]] || die "--smp wants 1..8 CPUs"
			smp=$2; shift ;;
		--no-tools) tools=0 ;;
		-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
		--) shift; cmd=("$@"); break ;;
		*) die "unknown argument '$1' (the command goes after --)" ;;
		esac
		shift
	done
	[[ -n $kernel ]] || die "--kernel 6.1|6.12 is required"
	((${#cmd[@]})) || die "no command given (after --)"
	[[ $timeout =~ ^[0-9]+$ ]] || die "--timeout wants seconds"
	local label=$kernel
	case $ARCH in
	amd64)
		QEMU=${QEMU:-qemu-system-x86_64}
		command -v "$QEMU" >/dev/null || die "$QEMU not found: apt-get install qemu-system-x86" ;;
	arm64)
		[[ $kernel == 6.12 ]] || die "--arch arm64 has kernel 6.12 only (bookworm-backports)"
		label=6.12-arm64
		QEMU=${QEMU:-qemu-system-aarch64}
		command -v "$QEMU" >/dev/null || die "$QEMU not found: apt-get install qemu-system-arm"
		if ! SYSROOT=$("$HERE/arm64/fetch-sysroot.sh") || [[ ! -d $SYSROOT ]]; then
			die "the arm64 sysroot could not be fetched (see above); this is a failure, not a skip"
		fi ;;
	*) die "--arch amd64|arm64, not '$ARCH'" ;;
	esac

	trap cleanup EXIT
	trap 'log "interrupted"; exit 1' INT TERM HUP

	# A kernel that cannot be fetched is a failure, not a skip: CI has
	# Debian's archive.
	local kdir line fk=("$HERE/fetch-kernels.sh")
	if ((${#modnames[@]})); then
		fk+=(--with-modules "$(IFS=,; echo "${modnames[*]}")")
	fi
	local mods_line=''
	line=$("${fk[@]}" "$label" | awk -v k="$label" '$1 == k') || line=''
	read -r _ kdir mods_line <<<"$line" || true
	if [[ -z $kdir || ! -e $kdir/vmlinuz ]]; then
		die "kernel $label could not be fetched (see above); this is a failure, not a skip"
	fi
	# the module files the kernel needs for --module, in load order
	read -r -a MODS <<<"$mods_line" || true

	if ((tools)); then
		local t
		while read -r t; do adds+=("$t"); done < <(default_tools)
	fi
	local base
	base=$(base_image "$kdir" "${adds[@]}")

	WORK=$(mktemp -d "${TMPDIR:-/tmp}/sdfs-vm.XXXXXX")
	# A fresh marker per run: nothing the command prints can fake it.
	local marker
	marker=SDFS-VM-EXIT-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
	"$HERE/mkinitramfs.sh" -o "$WORK/job.cpio.gz" --job-only --marker "$marker" \
		"${envs[@]}" -- "${cmd[@]}"
	cat "$base" "$WORK/job.cpio.gz" >"$WORK/initrd"

	local accel_args
	# An arm64 guest on this (x86-64) host can only be emulated.
	[[ $ARCH == amd64 || $accel == tcg ]] || { [[ $accel == auto ]] || log "--accel $accel: arm64 guests run under TCG"; accel=tcg; }
	case $accel in
	auto)
		if kvm_usable; then
			accel=kvm
		else
			accel=tcg
			log "not using KVM: $KVM_WHY"
		fi ;;
	kvm | tcg) ;;
	*) die "--accel auto|kvm|tcg, not '$accel'" ;;
	esac
	# Without cx16 the guest never runs cmpxchg16b, which the SLUB
	# allocator uses on every object: qemu 7.2's TCG with -cpu max crashed
	# these guests at random there (double faults), and under nested KVM
	# (this machine is itself a VM) the host's instruction emulator gives
	# up on it ("KVM internal error ... emulation failure").
	local console=ttyS0
	if [[ $ARCH == arm64 ]]; then
		# -cpu max emulates pointer authentication with the architected
		# QARMA algorithm unless told otherwise: measured, a boot took
		# 27-34 s with it and 8-12 s with pauth-impdef=on (qemu's own
		# cheaper function, same instructions to the guest).
		# shellcheck disable=SC2054 # one -cpu value with its properties
		accel_args=(-accel tcg -M virt -cpu max,pauth-impdef=on)
		console=ttyAMA0
	elif [[ $accel == kvm ]]; then
		accel_args=(-accel kvm -cpu "host,-cx16")
	else
		accel_args=(-accel tcg -cpu "qemu64,-cx16")
	fi
	# qboot (qemu-system-data) starts the kernel faster than SeaBIOS and
	# prints nothing. (qemu's virt machine loads an arm64 kernel itself.)
	local firmware=()
	[[ $ARCH == amd64 && -r /usr/share/qemu/qboot.rom ]] && firmware=(-bios /usr/share/qemu/qboot.rom)
	log "kernel $label ($(cat "$kdir/package")), $ARCH, accel $accel, initramfs $(($(stat -c %s "$WORK/initrd") / 1024)) KiB, timeout ${timeout}s"

	# The console goes through a FIFO to a filter that strips the marker
	# (and carriage returns) and remembers the exit code it carries.
	mkfifo "$WORK/console"
	# mawk (Debian's awk) reads a pipe in large blocks: without
	# -W interactive a long run shows nothing until it ends.
	local awk_opts=()
	if awk -W version 2>&1 | grep -qi mawk; then
		awk_opts=(-W interactive)
	fi
	# qemu stops (but does not exit) on a KVM internal error: kill it then
	# rather than wait for the timeout.
	awk "${awk_opts[@]}" -v m="$marker=" -v rcfile="$WORK/rc" -v pidfile="$WORK/qemu.pid" '
		/KVM internal error|^qemu-system-[a-z0-9_]*: .*(fatal|error)/ {
			if ((getline pid < pidfile) > 0) system("kill " pid)
		}
		{
			sub(/\r+$/, "")
			i = index($0, m)
			if (i) {
				rc = substr($0, i + length(m)) + 0
				print rc > rcfile
				close(rcfile)
				$0 = substr($0, 1, i - 1)
				if ($0 == "") next
			}
			print
			fflush()
		}
		# Count the TAP results the guest printed (sdfs_itest --tap), so
		# that the totals stand at the end of the log.
		/^ok [0-9]/ { ok++; if ($0 ~ /# [Ss][Kk][Ii][Pp]/) skip++ }
		/^not ok [0-9]/ { if ($0 ~ /# [Tt][Oo][Dd][Oo]/) todo++; else notok++ }
		/^1\.\.[0-9]+/ { plan = $1 }
		END {
			if (ok + notok + todo)
				printf "vm-run: guest TAP: %d ok (%d of them skipped), %d not ok, %d todo, plan %s\n",
					ok, skip, notok, todo, plan ? plan : "none" > "/dev/stderr"
		}' <"$WORK/console" &
	local filter_pid=$!

	local start=$SECONDS
	# shellcheck disable=SC2086 # SDFS_VM_QEMU_ARGS is a word list on purpose
	"$QEMU" -nodefaults -no-user-config -nographic -no-reboot \
		-m 2048 -smp "$smp" "${accel_args[@]}" \
		-serial stdio -pidfile "$WORK/qemu.pid" "${firmware[@]}" \
		-kernel "$kdir/vmlinuz" -initrd "$WORK/initrd" \
		-append "console=$console quiet panic=-1 oops=panic ${SDFS_VM_APPEND:-}" \
		${SDFS_VM_QEMU_ARGS:-} \
		</dev/null >"$WORK/console" 2>&1 &
	QEMU_PID=$!

	# Poll until qemu has exited (the guest powered off, panicked, or
	# qemu failed), or the guest's exit code has come through the console
	# and qemu has had a few seconds to exit by itself, or the timeout.
	# Polled rather than `wait -n` on qemu and a sleep: that was seen to
	# sit out the whole timeout after the guest had long reported its code.
	local deadline=$((start + timeout)) rc_at=0 timed_out=0 stuck=0 status=0
	while qemu_alive "$QEMU_PID"; do
		if ((rc_at == 0)) && [[ -s $WORK/rc ]]; then
			rc_at=$SECONDS
		fi
		if ((rc_at && SECONDS - rc_at >= QEMU_EXIT_GRACE)); then
			stuck=1
			break
		fi
		if ((SECONDS >= deadline)); then
			timed_out=1
			break
		fi
		sleep 0.2
	done
	((stuck || timed_out)) && kill "$QEMU_PID" 2>/dev/null
	wait "$QEMU_PID" 2>/dev/null || status=$?
	QEMU_PID=
	((stuck)) && log "qemu did not exit within ${QEMU_EXIT_GRACE}s of the guest's exit code; killed"
	wait "$filter_pid" || true
	local elapsed=$((SECONDS - start))

	if [[ -s $WORK/rc ]]; then
		local rc
		rc=$(cat "$WORK/rc")
		log "guest command exited with $rc after ${elapsed}s ($accel)"
		exit "$rc"
	fi
	if ((timed_out)); then
		log "timeout: no exit code from the guest after ${timeout}s; qemu killed"
	elif ((status != 0)); then
		log "qemu failed (exit $status) before the guest command finished"
	else
		log "the guest stopped without reporting an exit code (kernel panic or reset?) after ${elapsed}s"
	fi
	exit 1
}

main "$@"
