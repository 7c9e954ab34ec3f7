#!/usr/bin/env bash
# Fetches bb's libraries as Debian source packages and builds them static with musl-gcc.
#
# Usage: scripts/deps.sh [--print-flags]
#   BB_DEPS_DIR   cache directory (default: .deps in the source tree)
#   JOBS          parallel make jobs (default: nproc)
#
# Every package lands in $BB_DEPS_DIR/pkg/NAME-VERSION-rREV, built in a
# scratch directory and renamed into place only once installed, so a failed
# or interrupted run never leaves an entry a later run would trust. The
# versions are pinned: the same script builds the same libraries.
set -euo pipefail

# Bump when a build flag below changes: it is part of every cache key.
REV=1
# libssh2 carries bb's patch (scripts/deps/*.patch); its own revision is part of its key.
LIBSSH2_PATCH_REV=2

# name  source-package  version  suite-that-carries-it
PKGS=(
	"zlib        zlib         1:1.2.13.dfsg-1        bookworm"
	"httpparser  http-parser  2.9.4-5                bookworm"
	"mbedtls     mbedtls      3.6.6-0.1~deb13u1      trixie"
	"libsodium   libsodium    1.0.18-1+deb12u1       bookworm"
	"libssh2     libssh2      1.11.1-1+deb13u2       trixie"
	"libgit2     libgit2      1.9.0+ds-2+deb13u1     trixie"
	"bearssl     bearssl      0.6+dfsg.1-3           bookworm"
	"libyaml     libyaml      0.2.5-1                bookworm"
	"cjson       cjson        1.7.15-1+deb12u4       bookworm"
	"zstd        libzstd      1.5.4+dfsg2-5          bookworm"
	"brotli      brotli       1.0.9-2                bookworm"
	"xz          xz-utils     5.4.1-1+deb12u1        bookworm"
)

# Run from bb's Makefile, make passes its own command-line variables (O=..., MODE=...) down through
# the environment; the dependencies' makefiles must not see them (BearSSL's build uses $(O) itself).
unset MAKEFLAGS MAKEOVERRIDES MFLAGS MAKELEVEL O

top=$(cd "$(dirname "$0")/.." && pwd)
cache=${BB_DEPS_DIR:-$top/.deps}
jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
CC_MUSL=${CC_MUSL:-musl-gcc}
DEP_CFLAGS="-O2 -ffunction-sections -fdata-sections -fno-plt"

die() { printf 'deps: %s\n' "$*" >&2; exit 1; }
note() { printf 'deps: %s\n' "$*" >&2; }

key_of() { # NAME VERSION -> cache key (':' and '~' are awkward in paths)
	local v=${2//:/_} r=$REV
	# A patched package (and whatever is built on it) changes with its patch.
	case $1 in libssh2 | libgit2) r=$REV.$LIBSSH2_PATCH_REV ;; esac
	printf '%s-%s-r%s' "$1" "${v//\~/_}" "$r"
}

prefix_of() { # NAME -> installed prefix of the pinned version
	local line name src ver suite
	for line in "${PKGS[@]}"; do
		read -r name src ver suite <<<"$line"
		if [ "$name" = "$1" ]; then printf '%s/pkg/%s' "$cache" "$(key_of "$name" "$ver")"; return; fi
	done
	die "internal: unknown package $1"
}

print_flags() {
	local line name src ver suite p inc="" lib=""
	for line in "${PKGS[@]}"; do
		read -r name src ver suite <<<"$line"
		p=$(prefix_of "$name")
		inc="$inc -I$p/include"
		lib="$lib -L$p/lib"
	done
	printf 'DEPS_CFLAGS :=%s\n' "$inc"
	printf 'DEPS_LDFLAGS :=%s\n' "$lib"
	local bv
	for line in "${PKGS[@]}"; do read -r name src ver suite <<<"$line"; [ "$name" = bearssl ] && bv=$ver; done
	printf 'DEPS_DEFS := -DBB_HAVE_MBEDTLS -DBB_HAVE_SODIUM -DBB_BEARSSL_VERSION=\\"%s\\"\n' "$bv"
	printf 'DEPS_LIBS := -lgit2 -lssh2 -lsodium -lmbedtls -lmbedx509 -lmbedcrypto -lhttp_parser -lz -lbearssl -lyaml -lcjson -lzstd -lbrotlidec -lbrotlicommon -llzma -lpthread\n'
}

need_tools() {
	local t missing=""
	for t in "$CC_MUSL" cmake make apt-get dpkg-source ar patch autoreconf libtoolize; do
		command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
	done
	[ -z "$missing" ] || die "missing tool(s):$missing (apt-get install musl-tools cmake make dpkg-dev patch autoconf automake libtool)"
}

# apt-get source needs deb-src lines for every suite a pinned package comes
# from; a fresh Debian 12 machine has none. Add ours once, then update.
ensure_sources() {
	local line name src ver suite want=0
	for line in "${PKGS[@]}"; do
		read -r name src ver suite <<<"$line"
		apt-cache showsrc "$src" 2>/dev/null | grep -x "Version: $ver" >/dev/null || want=1
	done
	[ "$want" = 1 ] || return 0
	local f=/etc/apt/sources.list.d/bb-deps-src.sources
	[ "$(id -u)" = 0 ] || die "source packages missing from apt and not root: add deb-src for bookworm and trixie (see docs/decisions/0001-static-deps.md)"
	if [ ! -f "$f" ]; then
		note "adding deb-src entries ($f)"
		cat >"$f" <<-'EOF'
		Types: deb-src
		URIs: http://deb.debian.org/debian
		Suites: bookworm bookworm-updates trixie
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

		Types: deb-src
		URIs: http://deb.debian.org/debian-security
		Suites: bookworm-security trixie-security
		Components: main
		Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
		EOF
	fi
	apt-get update -qq || die "apt-get update failed"
	for line in "${PKGS[@]}"; do
		read -r name src ver suite <<<"$line"
		apt-cache showsrc "$src" 2>/dev/null | grep -x "Version: $ver" >/dev/null ||
			die "$src $ver is not offered by apt (suite $suite): command 'apt-cache showsrc $src'"
	done
}

# run LOG CMD...: run a build step, keep its output, show the tail on failure.
run() {
	local log=$1; shift
	if ! "$@" >>"$log" 2>&1; then
		note "FAILED in $PWD: $*"
		tail -n 25 "$log" >&2
		note "full log: $log"
		exit 1
	fi
}

fetch() { # SRC VER SUITE DEST: download and unpack with Debian's patches applied
	local src=$1 ver=$2 suite=$3 dest=$4 dl spec
	local dsc=${src}_${ver#*:}.dsc
	dl=$(mktemp -d "$cache/tmp/dl.XXXXXX")
	# apt resolves SRC=VER to a newer upload when one shares the version prefix (brotli 1.0.9-2 gives
	# 1.0.9-2+deb12u1); SRC/SUITE names the suite instead. Either way the .dsc must be the pinned one.
	for spec in "$src=$ver" "$src/$suite"; do
		rm -f "$dl"/*
		(cd "$dl" && apt-get source --download-only -qq "$spec" >"$dl/apt.log" 2>&1) && [ -f "$dl/$dsc" ] && break
	done
	[ -f "$dl/$dsc" ] || {
		cat "$dl/apt.log" >&2; rm -rf "$dl"
		die "download of $src $ver failed: command 'apt-get source --download-only $src=$ver' (or $src/$suite) did not give $dsc"
	}
	dsc=$dl/$dsc
	dpkg-source --no-check -x "$dsc" "$dest" >"$dl/unpack.log" 2>&1 || {
		cat "$dl/unpack.log" >&2; rm -rf "$dl"
		die "unpacking $src $ver failed: command 'dpkg-source -x $(basename "$dsc")'"
	}
	rm -rf "$dl"
}

cmake_build() { # LOG PREFIX ARGS...
	local log=$1 pfx=$2; shift 2
	run "$log" cmake -S . -B _bb -DCMAKE_BUILD_TYPE=Release \
		-DCMAKE_C_COMPILER="$CC_MUSL" -DCMAKE_C_FLAGS="$DEP_CFLAGS" \
		-DCMAKE_INSTALL_PREFIX="$pfx" -DCMAKE_INSTALL_LIBDIR=lib \
		-DCMAKE_POSITION_INDEPENDENT_CODE=OFF -DBUILD_SHARED_LIBS=OFF "$@"
	run "$log" cmake --build _bb -j "$jobs"
	run "$log" cmake --install _bb
}

build_one() { # NAME SRCDIR PREFIX LOG
	local name=$1 s=$2 p=$3 log=$4
	cd "$s"
	case $name in
	zlib)
		CC=$CC_MUSL CFLAGS="$DEP_CFLAGS" run "$log" ./configure --static --prefix="$p"
		run "$log" make -j "$jobs" libz.a
		run "$log" make install
		;;
	httpparser)
		run "$log" make CC="$CC_MUSL" CFLAGS_FAST_EXTRA="$DEP_CFLAGS" package
		mkdir -p "$p/include" "$p/lib"
		cp http_parser.h "$p/include/" && cp libhttp_parser.a "$p/lib/"
		;;
	mbedtls)
		cmake_build "$log" "$p" -DENABLE_TESTING=OFF -DENABLE_PROGRAMS=OFF -DGEN_FILES=OFF \
			-DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DUSE_STATIC_MBEDTLS_LIBRARY=ON
		;;
	libsodium)
		# Only Ed25519 and X25519 are used (libssh2's patch below); --enable-minimal keeps both.
		run "$log" autoreconf -fi
		CC=$CC_MUSL CFLAGS="$DEP_CFLAGS" run "$log" ./configure --prefix="$p" --disable-shared --enable-static \
			--enable-minimal --disable-pie --disable-ssp
		run "$log" make -j "$jobs"
		run "$log" make install
		;;
	libssh2)
		# mbedTLS has no Ed25519: bb's patch adds ssh-ed25519 keys and curve25519-sha256 on libsodium,
		# and RSA private keys in OpenSSH's format (docs/decisions/0003-ed25519.md).
		run "$log" patch -p1 -i "$top/scripts/deps/libssh2-mbedtls-ed25519.patch"
		DEP_CFLAGS="$DEP_CFLAGS -I$(prefix_of libsodium)/include" \
			cmake_build "$log" "$p" -DCRYPTO_BACKEND=mbedTLS -DBUILD_EXAMPLES=OFF -DBUILD_TESTING=OFF \
			-DENABLE_ZLIB_COMPRESSION=OFF -DCMAKE_PREFIX_PATH="$(prefix_of mbedtls)"
		# Debian's packaging adds -lgpg-error for its gcrypt build; wrong here. The patch needs libsodium.
		sed -i 's/ *-lgpg-error//; s|^Libs.private:|Libs.private: -L'"$(prefix_of libsodium)"'/lib -lsodium|' \
			"$p"/lib/pkgconfig/libssh2.pc 2>/dev/null || true
		;;
	libgit2)
		# Only our musl builds may be found: never the host's glibc -dev packages.
		export PKG_CONFIG_LIBDIR="$(prefix_of libssh2)/lib/pkgconfig:$(prefix_of libsodium)/lib/pkgconfig:$(prefix_of mbedtls)/lib/pkgconfig:$(prefix_of zlib)/lib/pkgconfig"
		cmake_build "$log" "$p" -DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DBUILD_EXAMPLES=OFF \
			-DUSE_HTTPS=OFF -DUSE_SSH=libssh2 -DUSE_HTTP_PARSER=http-parser \
			-DREGEX_BACKEND=regcomp -DUSE_NTLMCLIENT=OFF -DUSE_GSSAPI=OFF -DUSE_BUNDLED_ZLIB=OFF \
			-DUSE_ICONV=OFF -DUSE_THREADS=ON \
			-DCMAKE_PREFIX_PATH="$(prefix_of zlib);$(prefix_of httpparser);$(prefix_of libssh2);$(prefix_of mbedtls);$(prefix_of libsodium)" \

		;;
	bearssl)
		run "$log" make -j "$jobs" CC="$CC_MUSL" LD="$CC_MUSL" LDDLL="$CC_MUSL" \
			CFLAGS="$DEP_CFLAGS" DLL=no TOOLS=no TESTS=no
		mkdir -p "$p/include" "$p/lib"
		cp inc/*.h "$p/include/" && cp build/libbearssl.a "$p/lib/"
		;;
	libyaml)
		cmake_build "$log" "$p" -DBUILD_TESTING=OFF -DINSTALL_CMAKE_DIR=lib/cmake/yaml
		;;
	cjson)
		cmake_build "$log" "$p" -DENABLE_CJSON_TEST=OFF -DENABLE_CJSON_UTILS=OFF \
			-DBUILD_SHARED_AND_STATIC_LIBS=OFF -DENABLE_CUSTOM_COMPILER_FLAGS=OFF -DENABLE_TARGET_EXPORT=OFF
		;;
	zstd)
		# The decoder only (bb never compresses): no compressor, dictionary builder or legacy formats;
		# the single-symbol Huffman and short-sequence decoders keep it small.
		run "$log" make -C lib -j "$jobs" CC="$CC_MUSL" CFLAGS="$DEP_CFLAGS" ZSTD_LIB_COMPRESSION=0 \
			ZSTD_LIB_DICTBUILDER=0 ZSTD_LIB_DEPRECATED=0 ZSTD_LEGACY_SUPPORT=0 HUF_FORCE_DECOMPRESS_X1=1 \
			ZSTD_FORCE_DECOMPRESS_SEQUENCES_SHORT=1 libzstd.a
		mkdir -p "$p/include" "$p/lib"
		cp lib/zstd.h lib/zstd_errors.h "$p/include/" && cp lib/libzstd.a "$p/lib/"
		;;
	brotli)
		# The decoder only, compiled directly (its CMake build also makes shared libraries and the CLI).
		mkdir -p _bb "$p/include/brotli" "$p/lib"
		local f
		for f in c/common/*.c c/dec/*.c; do
			run "$log" "$CC_MUSL" $DEP_CFLAGS -Ic/include -c "$f" -o "_bb/$(basename "$f" .c).o"
		done
		run "$log" ar rcs "$p/lib/libbrotlicommon.a" _bb/constants.o _bb/context.o _bb/dictionary.o _bb/platform.o _bb/transform.o
		run "$log" ar rcs "$p/lib/libbrotlidec.a" _bb/bit_reader.o _bb/decode.o _bb/huffman.o _bb/state.o
		cp c/include/brotli/*.h "$p/include/brotli/"
		;;
	xz)
		# liblzma's decoder only: the vm backend unpacks a Debian kernel (bzImage, xz) into the ELF it boots.
		CC=$CC_MUSL CFLAGS="$DEP_CFLAGS" run "$log" ./configure --prefix="$p" --disable-shared --enable-static \
			--disable-xz --disable-xzdec --disable-lzmadec --disable-lzmainfo --disable-lzma-links \
			--disable-scripts --disable-doc --disable-nls --enable-threads=no --disable-encoders \
			--enable-decoders=lzma1,lzma2,x86,delta --enable-checks=crc32,crc64
		run "$log" make -j "$jobs"
		run "$log" make install
		;;
	*) die "internal: no recipe for $name" ;;
	esac
	[ -n "$(ls "$p"/lib/*.a 2>/dev/null)" ] || die "$name built but installed no static library under $p/lib"
}

main() {
	if [ "${1:-}" = "--print-flags" ]; then print_flags; return; fi
	mkdir -p "$cache/pkg" "$cache/tmp" "$cache/log"
	rm -rf "$cache"/pkg/*.partial "$cache"/tmp/*
	local line name src ver suite key p todo=()
	for line in "${PKGS[@]}"; do
		read -r name src ver suite <<<"$line"
		key=$(key_of "$name" "$ver")
		[ -d "$cache/pkg/$key" ] || todo+=("$line")
	done
	if [ ${#todo[@]} -gt 0 ]; then
		need_tools
		ensure_sources
	fi
	local t0 start=$SECONDS
	for line in "${todo[@]}"; do
		read -r name src ver suite <<<"$line"
		key=$(key_of "$name" "$ver")
		p=$cache/pkg/$key
		local work; work=$(mktemp -d "$cache/tmp/$key.XXXXXX")
		# Whatever happens, an unfinished entry is not left for a later run.
		trap 'rm -rf "$work" "$p.partial"' EXIT
		local log=$cache/log/$key.log
		: >"$log"
		t0=$SECONDS
		note "$name $ver: fetching"
		fetch "$src" "$ver" "$suite" "$work/src"
		note "$name $ver: building"
		# Install into a staging prefix named as the final one would be
		# (cmake bakes the prefix into .pc files), then rename.
		rm -rf "$p.partial"
		(build_one "$name" "$work/src" "$p.partial" "$log") || { rm -rf "$work" "$p.partial"; exit 1; }
		# .pc and .cmake files name the staging prefix; point them at the real one.
		{ grep -rl --null -F "$p.partial" "$p.partial" 2>/dev/null || true; } | xargs -0 -r sed -i "s|$p.partial|$p|g"
		mv "$p.partial" "$p"
		rm -rf "$work"
		trap - EXIT
		note "$name $ver: done in $((SECONDS - t0)) s"
	done
	print_flags >"$cache/flags.mk.tmp" && mv "$cache/flags.mk.tmp" "$cache/flags.mk"
	if [ ${#todo[@]} -gt 0 ]; then note "built ${#todo[@]} package(s) in $((SECONDS - start)) s"; else note "all packages cached in $cache"; fi
}

main "$@"
