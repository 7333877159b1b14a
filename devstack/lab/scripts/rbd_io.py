#!/usr/bin/python3
"""rbd_io.py: test helper that puts known bytes into a Cinder RBD volume, or
checksums it, straight through librbd (no kernel rbd device needed).

  rbd_io.py write POOL VOLUME_ID OFFSET_MB LENGTH_MB SEED   deterministic bytes
  rbd_io.py sha   POOL VOLUME_ID [LENGTH_MB]                sha256 of the image (or of
                                                            its first LENGTH_MB MiB)

Cinder names the image volume-<id>. CEPH_CONF names the site's ceph.conf (its
keyring line finds client.admin's key). Run it where the site's Ceph is
reachable (inside the site's namespace in netns mode).
"""
import hashlib
import os
import sys

import rados
import rbd

conf = os.environ['CEPH_CONF']
cmd, pool, vol = sys.argv[1:4]
name = vol if vol.startswith('volume-') else 'volume-' + vol
MB = 1 << 20
with rados.Rados(conffile=conf, rados_id='admin') as cluster:
    with cluster.open_ioctx(pool) as ioctx:
        with rbd.Image(ioctx, name) as img:
            if cmd == 'write':
                off, length, seed = int(sys.argv[4]) * MB, int(sys.argv[5]) * MB, sys.argv[6]
                pos = 0
                while pos < length:
                    # incompressible (like real data after the guest's own compression), so
                    # backup sizes in the benchmarks are not flattered by Cinder's zlib
                    block = hashlib.shake_256((seed + str(pos)).encode()).digest(MB)
                    img.write(block, off + pos)
                    pos += MB
                img.flush()
                print(f'wrote {length // MB} MiB at {off // MB} MiB seed={seed}')
            elif cmd == 'sha':
                h, size, pos = hashlib.sha256(), img.size(), 0
                if len(sys.argv) > 4:  # only the first LENGTH_MB MiB
                    size = min(size, int(sys.argv[4]) * MB)
                while pos < size:
                    n = min(4 * MB, size - pos)
                    h.update(img.read(pos, n))
                    pos += n
                print(h.hexdigest())
            else:
                sys.exit(f'unknown command {cmd}')
