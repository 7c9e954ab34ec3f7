#!/usr/bin/env python3
"""rootfs_image.py DIR OUT REF - a docker-archive (what `docker save` writes) of one layer holding DIR, tagged REF.

For tests that need an image to import (bb bottle image import) without a registry or an engine.
"""
import hashlib, io, json, sys, tarfile

src, out, ref = sys.argv[1], sys.argv[2], sys.argv[3]
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w", format=tarfile.PAX_FORMAT) as tf:
    tf.add(src, arcname=".")
layer = layer.getvalue()
diff = hashlib.sha256(layer).hexdigest()
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Env": ["PATH=/bin"]},
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff]}}).encode()
cid = hashlib.sha256(cfg).hexdigest()


def add(tf, name, data):
    ti = tarfile.TarInfo(name)
    ti.size, ti.mtime = len(data), 0
    tf.addfile(ti, io.BytesIO(data))


with tarfile.open(out, "w") as tf:
    add(tf, diff + "/layer.tar", layer)
    add(tf, cid + ".json", cfg)
    add(tf, "manifest.json", json.dumps([{"Config": cid + ".json", "RepoTags": [ref],
                                           "Layers": [diff + "/layer.tar"]}]).encode())
