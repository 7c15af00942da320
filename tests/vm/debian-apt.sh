# debian-apt.sh — sourced by the fetch scripts: apt access to the
# machine's own Debian mirror, for suites the machine does not use itself
# (bookworm-backports, trixie), without touching the host's apt state.
#
# Expects: TOOL (prefix of messages), CACHE (where private lists live),
# REFRESH (1: fetch the lists again).

log() { printf '%s: %s\n' "$TOOL" "$*" >&2; }
die() { printf '%s: error: %s\n' "$TOOL" "$*" >&2; exit 1; }

# Die unless this machine has apt-get and dpkg-deb (Debian); then create
# CACHE and hold its lock on fd 9 until the script exits: one fetch at a
# time per cache, since parallel test runs share it.
debian_cache_lock() {
	command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
		die "apt-get and dpkg-deb are needed (a Debian machine)"
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
}

# --- reading the machine's own Debian source -------------------------------

# Print "URI KEYRING" of the deb822 stanza in debian.sources whose Suites
# include SUITE (default bookworm, the plain suite; bookworm-security has a
# stanza of its own on Debian images); return 1 when the machine has none.
# The host name of the archive is deliberately never written into this
# repository: whatever mirror the machine uses is the one we use.
find_debian_source() {
	local suite=${1:-bookworm}
	local sources=/etc/apt/sources.list.d/debian.sources
	local line uri="" key=""
	if [[ -r $sources ]]; then
		line=$(awk -v want="$suite" '
			BEGIN { RS = ""; FS = "\n" }   # one record per stanza
			{
				uris = ""; suites = ""; key = ""; types = ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^[ \t]*#/) continue
					split($i, kv, ":")
					name = tolower(kv[1])
					val = substr($i, index($i, ":") + 1)
					gsub(/^[ \t]+|[ \t]+$/, "", val)
					if (name == "uris") uris = val
					else if (name == "suites") suites = val
					else if (name == "signed-by") key = val
					else if (name == "types") types = val
				}
				if (types !~ /(^|[ \t])deb([ \t]|$)/) next
				n = split(suites, s, /[ \t]+/)
				for (j = 1; j <= n; j++)
					if (s[j] == want) {
						split(uris, u, /[ \t]+/)
						print u[1], (key ~ /^\// ? key : "-")
						exit
					}
			}' "$sources")
		uri=${line%% *}
		key=${line#* }
	fi
	# Older images keep the one-line format in sources.list instead.
	if [[ -z $uri && -r /etc/apt/sources.list ]]; then
		uri=$(awk -v want="$suite" '$1 == "deb" {
				i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++
				if ($i ~ /^\[/ || $i ~ /\]$/) i++
				if ($(i + 1) == want) { print $i; exit }
			}' /etc/apt/sources.list)
		key=-
	fi
	[[ -n $uri ]] || return 1
	if [[ $key == - || ! -r $key ]]; then
		key=/usr/share/keyrings/debian-archive-keyring.gpg
	fi
	[[ -r $key ]] || die "no Debian archive keyring ($key): apt-get install debian-archive-keyring"
	printf '%s %s\n' "$uri" "$key"
}

# "URI KEYRING" of the machine's source for bookworm; dies without one.
host_debian_source() {
	find_debian_source bookworm ||
		die "no Debian source for suite bookworm in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
}

# --- apt front ends ----------------------------------------------------------

# APT_OPTS holds the -o options of the apt configuration in use; empty means
# the machine's own.
APT_OPTS=()

# Switch APT_OPTS to a private configuration for SUITE and ARCH whose only
# source is the machine's Debian mirror. Lists and archives stay in the
# cache, so the host's apt state is never touched. Each EXTRA suite (e.g.
# bookworm-updates, bookworm-security) is added from the machine's source
# for it, the plain suite's mirror when it has none of its own; a suite
# that has no source at all is left out with a message (apt then picks the
# newest version among the suites that are there).
private_apt() {
	local suite=$1 arch=$2
	shift 2
	local dir=$CACHE/apt-$suite-$arch
	local src uri key extra
	src=$(host_debian_source)
	uri=${src%% *}
	key=${src#* }
	mkdir -p "$dir/parts" "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/prefs"
	printf 'deb [arch=%s signed-by=%s] %s %s main\n' "$arch" "$key" "$uri" "$suite" \
		>"$dir/sources.list.new"
	for extra in "$@"; do
		if src=$(find_debian_source "$extra"); then
			printf 'deb [arch=%s signed-by=%s] %s %s main\n' "$arch" "${src#* }" \
				"${src%% *}" "$extra" >>"$dir/sources.list.new"
		elif [[ $extra == *-updates ]]; then
			printf 'deb [arch=%s signed-by=%s] %s %s main\n' "$arch" "$key" "$uri" "$extra" \
				>>"$dir/sources.list.new"
		else
			log "no source for $extra on this machine: its updates are left out"
		fi
	done
	# A changed mirror means the old lists are stale.
	if ! cmp -s "$dir/sources.list.new" "$dir/sources.list" 2>/dev/null; then
		mv "$dir/sources.list.new" "$dir/sources.list"
		rm -f "$dir/updated"
	else
		rm -f "$dir/sources.list.new"
	fi
	APT_OPTS=(
		-o "Dir::Etc::SourceList=$dir/sources.list"
		-o "Dir::Etc::SourceParts=$dir/parts"
		-o "Dir::Etc::Preferences=$dir/prefs/none"
		-o "Dir::Etc::PreferencesParts=$dir/prefs"
		-o "Dir::State::Lists=$dir/lists"
		-o "Dir::Cache=$dir/cache"
		-o "APT::Architecture=$arch"
		-o "APT::Architectures::=$arch"
	)
	# The lists are the only network access before the download itself:
	# fetch them once per cache fill (or on --refresh).
	if [[ ! -e $dir/updated || $REFRESH == 1 ]]; then
		log "apt-get update ($suite, $arch, private lists in $dir)"
		# _apt must be able to write the partial dirs (apt's sandbox user).
		chown -R _apt "$dir/lists/partial" "$dir/cache/archives/partial" 2>/dev/null || true
		# --error-on=any: a list that failed to download is an error here,
		# not a warning (apt's default), or the stamp below would keep an
		# empty list forever.
		apt-get "${APT_OPTS[@]}" -q -o Debug::NoLocking=1 update --error-on=any >&2 ||
			die "apt-get update of $suite $* ($uri) failed"
		touch "$dir/updated"
	fi
}

# Use the machine's own apt configuration. On a machine whose lists were
# never fetched, fetch them once (we are root, as the tests must be).
host_apt() {
	APT_OPTS=()
	if ! apt-cache show "$1" >/dev/null 2>&1; then
		log "apt does not know $1 yet: running apt-get update"
		apt-get -q update >&2 || die "apt-get update failed"
	fi
}

