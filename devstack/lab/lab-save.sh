#!/bin/bash
# lab-save.sh FILE: save the lab's state as a sparse, compressed tarball for a
# warm start elsewhere: LAB_STATE_TARBALL=FILE lab-up.sh. The lab must be
# stopped (lab-down.sh without --wipe) so the databases and Ceph are
# consistent on disk. Logs, pid files and sockets are left out. Restore it
# to the same LAB_STATE path: Glance records absolute image file paths.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
need_root "$@"
OUT=${1:?usage: lab-save.sh FILE.tar.gz}
[ -f "$LAB_STATE/mode" ] || die "no lab state in $LAB_STATE"
for f in "$LAB_STATE"/site-*/pids/*.pid "$LAB_STATE"/shared/pids/*.pid "$HOST_PIDS"/*.pid; do
  if pid_alive "$f"; then die "the lab is running ($(basename "$f" .pid) is alive); run lab-down.sh first"; fi
done
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
T0=$(date +%s)
tar --sparse -czf "$OUT" -C "$LAB_STATE" \
  --exclude='./site-*/log' --exclude='./shared/log' --exclude='./host' --exclude='./log' \
  --exclude='./link' --exclude='./run' --exclude='*/pids' --exclude='*.sock' --exclude='*.asok' .
log "saved $LAB_STATE to $OUT ($(du -h "$OUT" | cut -f1), $(($(date +%s) - T0)) s)"
