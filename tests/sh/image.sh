#!/usr/bin/env bash
# image.sh - `bb bottle image`: import real podman docker-archive / OCI archives, refuse hostile tarballs, list/rm, the sidecar image.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { skip "image" "python3 is not installed"; exit 0; }
export BB_HOME=$T/home
IMAGES=$BB_HOME/.bb/images
mkdir -p "$BB_HOME" "$T/outside"

# nothing_left NAME: no image NAME, no staging directory, nothing written outside.
nothing_left() {
	[ ! -e "$IMAGES/$1" ] && [ -z "$(ls -A "$IMAGES" 2>/dev/null | grep '^\.import-')" ] && [ -z "$(ls -A "$T/outside")" ]
}

# mk.py builds archives the way docker save / an OCI layout would, from layers described as JSON.
cat >"$T/mk.py" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile

def member(tf, spec):
    kind, name = spec[0], spec[1]
    ti = tarfile.TarInfo(name)
    ti.mtime = 0
    data = None
    if kind == "file":
        data = spec[2].encode(); ti.size = len(data); ti.mode = 0o644
    elif kind == "dir":
        ti.type = tarfile.DIRTYPE; ti.mode = 0o755
    elif kind == "sym":
        ti.type = tarfile.SYMTYPE; ti.linkname = spec[2]
    elif kind == "hard":
        ti.type = tarfile.LNKTYPE; ti.linkname = spec[2]
    elif kind == "chr":
        ti.type = tarfile.CHRTYPE; ti.devmajor, ti.devminor = 1, 3
    elif kind == "fifo":
        ti.type = tarfile.FIFOTYPE
    tf.addfile(ti, io.BytesIO(data) if data is not None else None)

def layer_bytes(specs):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for s in specs:
            member(tf, s)
    return b.getvalue()

def sha(b):
    return hashlib.sha256(b).hexdigest()

def config(layers):
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["A=1"], "Cmd": ["/bin/sh"]},
                       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]}}).encode()

def add_bytes(tf, name, data):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0
    tf.addfile(ti, io.BytesIO(data))

def docker_archive(out, layers, tamper=False):
    cfg = config(layers)
    with tarfile.open(out, "w") as tf:
        names = []
        for i, l in enumerate(layers):
            n = "%s/layer.tar" % sha(l)
            if tamper and i == len(layers) - 1:
                l = l[:-1024] + b"X" + l[-1023:]
            add_bytes(tf, n, l); names.append(n)
        add_bytes(tf, sha(cfg) + ".json", cfg)
        add_bytes(tf, "manifest.json", json.dumps([{"Config": sha(cfg) + ".json", "RepoTags": ["hostile:latest"], "Layers": names}]).encode())

def oci_dir(out, layers, truncate_gzip=False, tamper_config=False):
    os.makedirs(out + "/blobs/sha256")
    def blob(b):
        open(out + "/blobs/sha256/" + sha(b), "wb").write(b); return "sha256:" + sha(b)
    descs = []
    for l in layers:
        gz = gzip.compress(l)
        if truncate_gzip:
            gz = gz[: len(gz) // 2]
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(gz), "size": len(gz)})
    cfg = config(layers)
    cd = blob(cfg)
    if tamper_config:
        open(out + "/blobs/sha256/" + cd[7:], "ab").write(b" ")
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
                      "layers": descs}).encode()
    md = blob(man)
    open(out + "/index.json", "w").write(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(man)}]}))
    open(out + "/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')

kind, out, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
layers = [layer_bytes(l) for l in spec]
if kind == "docker":
    docker_archive(out, layers)
elif kind == "docker-tamper":
    docker_archive(out, layers, tamper=True)
elif kind == "oci":
    oci_dir(out, layers)
elif kind == "oci-truncgz":
    oci_dir(out, layers, truncate_gzip=True)
elif kind == "oci-tamper":
    oci_dir(out, layers, tamper_config=True)
PY
mk() { python3 "$T/mk.py" "$@"; }

# refused NAME KIND SPEC EXPECT...: the import fails (exit 1), names what it must, leaves nothing.
refused() {
	local name=$1 kind=$2 spec=$3 out rc miss=""; shift 3
	mk "$kind" "$T/$name.tar" "$spec" || { fail "$name" "mk.py failed"; return; }
	out=$("$BB" bottle image import "$T/$name.tar" --name "$name" 2>&1); rc=$?
	for want in "$@"; do [[ $out == *"$want"* ]] || miss+=" [$want]"; done
	if [ $rc -eq 1 ] && [ -z "$miss" ] && nothing_left "$name"; then ok "$name"; else fail "$name" "rc=$rc missing:$miss $out"; fi
}

# ---- hostile tarballs ----
refused traversal docker '[[["file","ok","x"],["file","../../outside/evil","x"]]]' "member '../../outside/evil'" "'..'"
refused traversal-inside docker '[[["file","a/../../outside/evil","x"]]]' "'..'"
refused symlink-escape-relative docker '[[["sym","usr/lib/up","../../../outside"]]]' "member 'usr/lib/up'" "leaves the root"
refused symlink-escape-absolute docker '[[["sym","up","/../../../outside"]]]' "member 'up'" "leaves the root"
refused symlink-write-through docker "[[[\"sym\",\"x\",\"$T/outside\"],[\"file\",\"x/pwned\",\"owned\"]]]" \
	"member 'x/pwned'" "through the symlink 'x'"
refused symlink-write-through-later-layer docker "[[[\"sym\",\"etc\",\"$T/outside\"]],[[\"file\",\"etc/passwd\",\"root::0:0\"]]]" \
	"layer 2" "member 'etc/passwd'" "through the symlink 'etc'"
refused hardlink-through-symlink docker "[[[\"sym\",\"x\",\"/etc\"],[\"hard\",\"pw\",\"x/passwd\"]]]" "member 'pw'" "symlink 'x'"
refused hardlink-escape docker '[[["hard","pw","../../../etc/passwd"]]]' "member 'pw'" "'..'"
refused bad-diff-id docker-tamper '[[["file","a","hello"]]]' "diff_id"
refused bad-blob-digest oci-tamper '[[["file","a","hello"]]]' "sha256 is" "digest says"
refused truncated-gzip oci-truncgz '[[["file","big","'"$(head -c 3000 /dev/urandom | base64 -w0)"'"]]]' "truncated gzip"

# An OCI layout directory (not a tarball) imports too; device nodes and fifos are skipped with a warning.
mk oci "$T/devs" '[[["dir","dev"],["chr","dev/null"],["fifo","run/pipe"],["file","etc/os-release","ID=test"]]]'
out=$("$BB" bottle image import "$T/devs" --name devs 2>&1); rc=$?
if [ $rc -eq 0 ] && [[ $out == *"skipped device node 'dev/null'"* ]] && [[ $out == *"skipped fifo 'run/pipe'"* ]] &&
	[ ! -e "$IMAGES/devs/rootfs/dev/null" ] && [ ! -e "$IMAGES/devs/rootfs/run/pipe" ] &&
	[ "$(cat "$IMAGES/devs/rootfs/etc/os-release")" = "ID=test" ]; then
	ok "device nodes and fifos skipped with a warning naming them (OCI layout directory)"
else fail "device nodes and fifos skipped with a warning naming them (OCI layout directory)" "rc=$rc $out"; fi

# Whiteouts across layers: .wh.NAME removes, .wh..wh..opq empties a directory of lower content.
mk docker "$T/wh.tar" '[[["file","keep","k"],["file","gone","g"],["file","gonedir/f","g"],["file","opq/old","o"]],
	[["file",".wh.gone",""],["file",".wh.gonedir",""],["file","opq/.wh..wh..opq",""],["file","opq/new","n"]]]'
out=$("$BB" bottle image import "$T/wh.tar" --name wh 2>&1); rc=$?
R=$IMAGES/wh/rootfs
if [ $rc -eq 0 ] && [ -e "$R/keep" ] && [ ! -e "$R/gone" ] && [ ! -e "$R/gonedir" ] && [ ! -e "$R/opq/old" ] &&
	[ -e "$R/opq/new" ] && [ -z "$(find "$R" -name '.wh.*')" ]; then ok "whiteouts and opaque directories"
else fail "whiteouts and opaque directories" "rc=$rc $out $(cd "$R" 2>/dev/null && find .)"; fi

# Caps name themselves.
mk docker "$T/caps.tar" '[[["file","a","12345"],["file","b","12345"],["file","c","1"]]]'
out=$("$BB" bottle image import "$T/caps.tar" --name caps --max-entries 2 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"entry count cap"* ]] && nothing_left caps && ok "entry count cap" || fail "entry count cap" "rc=$rc $out"
out=$("$BB" bottle image import "$T/caps.tar" --name caps --max-size 8 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"member 'b'"* ]] && [[ $out == *"size cap"* ]] && nothing_left caps && ok "size cap" || fail "size cap" "rc=$rc $out"
out=$("$BB" bottle image import "$T/caps.tar" --name 'Bad/Name' 2>&1); rc=$?
[ $rc -eq 2 ] && [[ $out == *"must match"* ]] && ok "bad image name is a usage error" || fail "bad image name is a usage error" "rc=$rc $out"
printf 'not a tar at all, just some text that is long enough to fill a block or so..........' >"$T/junk.tar"
out=$("$BB" bottle image import "$T/junk.tar" --name junk 2>&1); rc=$?
[ $rc -eq 1 ] && nothing_left junk && ok "a non-archive is refused" || fail "a non-archive is refused" "rc=$rc $out"

# ---- real podman archives ----
PODMAN=(podman --root "$T/storage" --runroot "$T/run" --storage-driver vfs --tmpdir "$T/ptmp" --events-backend file
	--cgroup-manager=cgroupfs --runtime runc)
if ! command -v podman >/dev/null || [ "$(id -u)" != 0 ]; then
	skip "podman archives" "needs root and podman (apt-get install podman runc)"
else
	mkdir -p "$T/ptmp" "$T/src/etc" "$T/src/bin" "$T/src/usr/lib"
	echo hello >"$T/src/etc/hello"
	printf '#!/bin/sh\necho hi\n' >"$T/src/bin/run"
	chmod 755 "$T/src/bin/run"
	ln -s ../../etc/hello "$T/src/usr/lib/hello"
	ln -s /etc/hello "$T/src/abs"
	tar -C "$T/src" -cf "$T/base.tar" .
	ref=localhost/bb-image-test:v1
	if "${PODMAN[@]}" import --change 'ENV FOO=bar' --change 'CMD ["/bin/run"]' --change 'WORKDIR /etc' \
		"$T/base.tar" "$ref" >"$T/podman.log" 2>&1 &&
		"${PODMAN[@]}" save --format docker-archive -o "$T/d.tar" "$ref" >>"$T/podman.log" 2>&1 &&
		"${PODMAN[@]}" save --format oci-archive -o "$T/o.tar" "$ref" >>"$T/podman.log" 2>&1; then
		out=$("$BB" bottle image import "$T/d.tar" 2>&1); rc=$?
		R=$IMAGES/bb-image-test/rootfs
		if [ $rc -eq 0 ] && [ "$(cat "$R/etc/hello")" = hello ] && [ -x "$R/bin/run" ] &&
			[ "$(readlink "$R/usr/lib/hello")" = ../../etc/hello ] && [ "$(readlink "$R/abs")" = /etc/hello ] &&
			[[ $out == *"layer 1/1: "*" bytes in "*" members"* ]]; then
			ok "podman docker-archive imports (name from its tag, progress per layer)"
		else fail "podman docker-archive imports (name from its tag, progress per layer)" "rc=$rc $out"; fi
		meta=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); c=m["config"]; print(m["format"], c["Env"], c["Cmd"], c["WorkingDir"], m["id"][:7])' \
			"$IMAGES/bb-image-test/image.json" 2>&1)
		[ "$meta" = "docker-archive ['FOO=bar'] ['/bin/run'] /etc sha256:" ] && ok "image.json holds Env, Cmd, WorkingDir" ||
			fail "image.json holds Env, Cmd, WorkingDir" "$meta"
		out=$("$BB" bottle image import "$T/o.tar" --name tiny-oci 2>&1); rc=$?
		[ $rc -eq 0 ] && [ "$(cat "$IMAGES/tiny-oci/rootfs/etc/hello")" = hello ] && [[ $out == *gzip* || $out == *"layer 1/1"* ]] &&
			ok "podman oci-archive imports" || fail "podman oci-archive imports" "rc=$rc $out"
		gzip -c "$T/d.tar" >"$T/d.tar.gz"
		out=$("$BB" bottle image import "$T/d.tar.gz" --name gz -q 2>&1); rc=$?
		[ $rc -eq 0 ] && [ -x "$IMAGES/gz/rootfs/bin/run" ] && ok "a gzip'd archive imports" || fail "a gzip'd archive imports" "rc=$rc $out"
		out=$("$BB" bottle image import "$T/d.tar" 2>&1); rc=$?
		[ $rc -eq 1 ] && [[ $out == *"image bb-image-test exists"* ]] && ok "an existing name is refused" ||
			fail "an existing name is refused" "rc=$rc $out"
		out=$("$BB" bottle image list 2>&1)
		[[ $out == *"bb-image-test"*"docker-archive"* ]] && [[ $out == *"tiny-oci"*"oci"* ]] && ok "list" || fail "list" "$out"
		n=$("$BB" bottle image list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>&1)
		[ "$n" = 5 ] && ok "list --json" || fail "list --json" "$n"
		out=$("$BB" bottle image rm tiny-oci gz 2>&1); rc=$?
		[ $rc -eq 0 ] && [ ! -e "$IMAGES/tiny-oci" ] && [ ! -e "$IMAGES/gz" ] && ok "rm" || fail "rm" "rc=$rc $out"
		out=$("$BB" bottle image rm tiny-oci 2>&1); rc=$?
		[ $rc -eq 1 ] && [[ $out == *"no image tiny-oci"* ]] && ok "rm of a missing image fails" || fail "rm of a missing image fails" "rc=$rc $out"
	else
		fail "podman import/save" "$(tail -n 5 "$T/podman.log")"
	fi

	# The sidecar image loads in podman, and reads back through our own importer.
	tag=t$$
	out=$("$BB" bottle image sidecar -o "$T/sc.tar" --tag "$tag" 2>&1); rc=$?
	if [ $rc -eq 0 ] && [[ $out == "bb-sidecar:$tag sha256:"* ]] && "${PODMAN[@]}" load -i "$T/sc.tar" >"$T/load.log" 2>&1; then
		insp=$("${PODMAN[@]}" image inspect "localhost/bb-sidecar:$tag" --format '{{.Id}} {{.Os}} {{json .Config.Entrypoint}}' 2>&1)
		id=${out#* sha256:}
		[ "$insp" = "$id linux [\"/bb\",\"init\",\"--sidecar\"]" ] && ok "sidecar image: podman load + inspect" ||
			fail "sidecar image: podman load + inspect" "$insp vs $id"
	else
		fail "sidecar image: podman load + inspect" "rc=$rc $out $(cat "$T/load.log" 2>/dev/null)"
	fi
fi

out=$("$BB" bottle image sidecar -o "$T/sc2.tar" --tag rt 2>&1) && "$BB" bottle image import "$T/sc2.tar" -q >/dev/null 2>&1
R=$IMAGES/bb-sidecar/rootfs
if cmp -s "$R/bb" "$BB" && [ "$(stat -c %a "$R/tmp")" = 1777 ] && [ -d "$R/etc" ] && [ -d "$R/run" ]; then
	ok "sidecar archive round-trips through import (/bb, /tmp 1777, /etc, /run)"
else fail "sidecar archive round-trips through import (/bb, /tmp 1777, /etc, /run)" "$out"; fi
a=$(SOURCE_DATE_EPOCH=1 "$BB" bottle image sidecar --tag rt 2>&1 >/dev/null)
b=$(SOURCE_DATE_EPOCH=1 "$BB" bottle image sidecar --tag rt 2>&1 >/dev/null)
[ -n "$a" ] && [ "$a" = "$b" ] && ok "sidecar image ID is reproducible" || fail "sidecar image ID is reproducible" "$a / $b"
out=$("$BB" bottle image sidecar --tag 'bad tag' 2>&1 >/dev/null); rc=$?
[ $rc -eq 2 ] && ok "a bad tag is a usage error" || fail "a bad tag is a usage error" "rc=$rc $out"

bad=""
for sub in "" import list rm sidecar; do
	out=$("$BB" bottle image $sub --help 2>&1); rc=$?
	[ $rc -eq 0 ] && [[ $out == usage:* ]] || bad+=" '$sub' rc=$rc"
done
[ -z "$bad" ] && ok "--help on every command" || fail "--help on every command" "$bad"
