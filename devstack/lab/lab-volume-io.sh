#!/usr/bin/env bash
# lab-volume-io.sh SITE write VOLUME_ID OFFSET_MB LENGTH_MB SEED
# lab-volume-io.sh SITE sha VOLUME_ID [LENGTH_MB]
# Writes deterministic bytes into a Cinder volume of the lab, or prints the sha256 of its
# contents, through librbd inside the site (tests use it to prove data survives backup,
# export/import and restore).
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
[ $# -ge 3 ] || die "usage: $0 SITE write VOLUME_ID OFFSET_MB LENGTH_MB SEED | $0 SITE sha VOLUME_ID [LENGTH_MB]"
site=$1 cmd=$2 vol=$3
shift 3
site_ip "$site" >/dev/null
CEPH_CONF=$(infra_dir "$site")/ceph/ceph.conf
export CEPH_CONF
in_site "$site" "$PY" "$LAB_HOME/scripts/rbd_io.py" "$cmd" "site-$site-volumes" "$vol" "$@"
