#!/usr/bin/env bash
# setup.sh - installs the Debian packages bb needs for a purpose, only those missing.
# Usage: scripts/setup.sh build|test|asan|bench...
#   build  compilers and tools for scripts/deps.sh and the static build
#   test   the real peers the tests drive (openssl, sshd, git, curl, ...), and the agent CLIs
#          (scripts/agent-clis.txt) from npm into $BB_AGENTS_DIR (cached; skipped, with a
#          message, when the registry is unreachable: the tests that drive them then skip)
#          and Debian's kernel for the vm backend's guests: its linux-image package downloaded
#          and unpacked (never installed) into $BB_VM_KERNEL_CACHE (default /var/cache/bb/vm-kernel
#          as root, where bb finds it)
#   asan   clang and the -dev libraries for the sanitizer build
#   bench  what scripts/bench/ measures with or against (GNU time, ripgrep for scan-speed.sh; nginx,
#          wrk, squid, tinyproxy, mitmproxy and libssl-dev for egress.sh and its egload)
# As root it runs apt-get; otherwise it prints the command to run and fails.
set -euo pipefail

pkgs_build="make gcc libc6-dev linux-libc-dev musl-tools cmake pkg-config dpkg-dev file binutils ca-certificates patch autoconf automake libtool"
pkgs_test="git openssl openssh-server openssh-client curl python3 python3-requests python3-websockets procps iproute2 dnsmasq-base bind9-dnsutils nodejs npm util-linux runc crun podman netavark aardvark-dns iptables tmux valgrind zstd brotli qemu-system-x86 runsc"
pkgs_bench="time ripgrep nginx wrk squid tinyproxy mitmproxy libssl-dev"
pkgs_asan="clang libbearssl-dev libyaml-dev libcjson-dev libgit2-dev libssh2-1-dev libsodium-dev zlib1g-dev libzstd-dev libbrotli-dev liblzma-dev pkg-config"

# The agent CLIs (Claude Code, Codex) at the versions scripts/agent-clis.txt pins, each in a prefix of
# its own under $BB_AGENTS_DIR, installed once (the directory is the cache CI keeps between runs).
agents_dir() {
	if [ -n "${BB_AGENTS_DIR:-}" ]; then echo "$BB_AGENTS_DIR"
	elif [ "$(id -u)" = 0 ]; then echo /var/cache/bb/agents
	else echo "$(cd "$(dirname "$0")/.." && pwd)/build/agents"; fi
}
install_agents() {
	local dir name pkg ver dest
	dir=$(agents_dir)
	command -v npm >/dev/null 2>&1 || { echo "setup: npm is missing: the agent CLIs are not installed" >&2; return 0; }
	while read -r name pkg ver; do
		case $name in '' | '#'*) continue ;; esac
		dest=$dir/$name-$ver
		[ -x "$dest/node_modules/.bin/$name" ] && continue
		echo "setup: installing $pkg@$ver into $dest" >&2
		mkdir -p "$dir" && rm -rf "$dest.tmp" &&
			timeout 600 npm install --prefix "$dest.tmp" --no-audit --no-fund --no-save --loglevel=error "$pkg@$ver" >"$dir/$name.log" 2>&1 &&
			[ -x "$dest.tmp/node_modules/.bin/$name" ] && rm -rf "$dest" && mv "$dest.tmp" "$dest" ||
			{ rm -rf "$dest.tmp"; echo "setup: npm could not install $pkg@$ver ($(tail -n 1 "$dir/$name.log" 2>/dev/null)): the tests that drive $name will skip" >&2; }
	done <"$(dirname "$0")/agent-clis.txt"
	return 0
}

# The vm backend's tests boot Debian's own kernel: linux-image-amd64's current package, unpacked into
# a directory of its own (boot/vmlinuz-V, lib/modules/V), never installed on this host.
vm_kernel() {
	local dir pkg work
	dir=${BB_VM_KERNEL_CACHE:-/var/cache/bb/vm-kernel}
	[ "$(dpkg --print-architecture 2>/dev/null)" = amd64 ] || return 0
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
	if [ -z "$pkg" ]; then
		echo "setup: apt knows no linux-image-amd64: the vm backend's tests will skip" >&2
		return 0
	fi
	ls "$dir/$pkg/boot/"vmlinuz-* >/dev/null 2>&1 && return 0
	echo "setup: unpacking $pkg into $dir/$pkg (for the vm backend's guests; not installed)" >&2
	work=$(mktemp -d)
	if (cd "$work" && apt-get download -q "$pkg" >/dev/null 2>&1) && mkdir -p "$dir" &&
		rm -rf "$dir/$pkg.tmp" && dpkg-deb -x "$work/$pkg"_*.deb "$dir/$pkg.tmp" && mv "$dir/$pkg.tmp" "$dir/$pkg"; then
		rm -rf "$work"
	else
		rm -rf "$work" "$dir/$pkg.tmp"
		echo "setup: could not fetch $pkg: the vm backend's tests will skip" >&2
	fi
	return 0
}

want=""
agents=0
for purpose in "$@"; do
	case $purpose in
	build) want="$want $pkgs_build" ;;
	test) want="$want $pkgs_test"; agents=1 ;;
	asan) want="$want $pkgs_asan" ;;
	bench) want="$want $pkgs_bench" ;;
	*) echo "setup: unknown purpose '$purpose' (build, test, asan or bench)" >&2; exit 2 ;;
	esac
done

# Debian packages first (npm among them), then the agent CLIs; neither may stop the other's report.
trap '[ "$agents" = 1 ] && { install_agents; [ "$(id -u)" = 0 ] && vm_kernel; }; true' EXIT

missing=""
for p in $want; do
	# node and npm may come from elsewhere (NodeSource's nodejs bundles npm): a working command is enough.
	case $p in nodejs | npm) command -v "${p%js}" >/dev/null 2>&1 && continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" != 0 ]; then
	echo "setup: missing packages:$missing" >&2
	echo "setup: run as root: apt-get update && apt-get install -y$missing" >&2
	exit 1
fi
echo "setup: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# An apt index older than a day (or none) would miss packages: refresh it first.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mtime -1 2>/dev/null | head -n 1)" ]; then
	apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends $missing >/dev/null
