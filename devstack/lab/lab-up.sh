#!/bin/bash
# lab-up.sh: bring up Ferry's two-site OpenStack lab (idempotent).
#
#   site A  http://127.0.1.1:5000/v3     site B  http://127.0.2.1:5000/v3
#   admin / admin (project admin, domain Default), demo / demo (member of demo)
#   clouds.yaml: $LAB_STATE/clouds.yaml (clouds lab-a, lab-b, lab-a-demo, lab-b-demo)
#
# Environment:
#   LAB_STATE=/var/lib/ferry-lab    where everything lives (kept by lab-down.sh)
#   LAB_MODE=netns|shared           netns (default): each site in its own network
#                                   namespace with its own MariaDB, RabbitMQ, Ceph;
#                                   shared: both sites on the host sharing them
#                                   (automatic, with a warning, without namespaces)
#   LAB_PARALLEL=1|0                bring both sites up at once (default 1)
#   LAB_BACKUP_STORE=posix|swift    cinder-backup store of both sites (default posix)
#   LAB_STATE_TARBALL=FILE          restore a state saved by lab-save.sh first
#   LAB_DEBUG=true                  debug logging in every service
# See docs/lab.md.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
need_root "$@"
T0=$(date +%s)

bash "$LAB_HOME/scripts/install.sh"
T1=$(date +%s)

# ---- restore a saved state (warm start from a tarball)
if [ -n "${LAB_STATE_TARBALL:-}" ]; then
  [ -f "$LAB_STATE_TARBALL" ] || die "LAB_STATE_TARBALL=$LAB_STATE_TARBALL: no such file"
  if [ -f "$LAB_STATE/mode" ]; then
    warn "$LAB_STATE already holds a lab; ignoring LAB_STATE_TARBALL (run lab-down.sh --wipe first to restore it)"
  else
    log "restoring $LAB_STATE from $LAB_STATE_TARBALL"
    mkdir -p "$LAB_STATE"
    # the tarball holds the directory's content (see lab-save.sh)
    tar --sparse -xzf "$LAB_STATE_TARBALL" -C "$LAB_STATE"
    [ -f "$LAB_STATE/mode" ] || die "$LAB_STATE_TARBALL is not a lab state saved by lab-save.sh (no 'mode' file)"
  fi
fi

# ---- mode
netns_works() {
  local probe=ferry-probe-$$
  ip netns add "$probe" 2>/dev/null || return 1
  if ip netns exec "$probe" ip link set lo up 2>/dev/null; then
    ip netns delete "$probe"
    return 0
  fi
  ip netns delete "$probe" 2>/dev/null || true
  return 1
}
if [ -f "$LAB_STATE/mode" ]; then
  MODE=$(cat "$LAB_STATE/mode")
  if [ -n "${LAB_MODE:-}" ] && [ "$LAB_MODE" != "$MODE" ]; then
    die "the state in $LAB_STATE was made in $MODE mode but LAB_MODE=$LAB_MODE; unset LAB_MODE, or run lab-down.sh --wipe to start over"
  fi
  if [ "$MODE" = netns ] && ! netns_works; then
    die "the state in $LAB_STATE is a netns-mode lab but network namespaces do not work here; run lab-down.sh --wipe and lab-up.sh again (shared mode)"
  fi
else
  MODE=${LAB_MODE:-netns}
  case $MODE in netns | shared) ;; *) die "LAB_MODE must be netns or shared, not '$MODE'" ;; esac
  if [ "$MODE" = netns ] && ! netns_works; then
    {
      echo "################################################################################"
      echo "# WARNING: network namespaces are not available here (ip netns add failed)."
      echo "# Falling back to SHARED mode: both sites run on the host and share one MariaDB,"
      echo "# RabbitMQ and Ceph. 'cut' and 'blackout' are then only approximations"
      echo "# (iptables REJECT, SIGSTOP) and the sites are not independent. See docs/lab.md."
      echo "################################################################################"
    } >&2
    MODE=shared
  fi
fi

bash "$LAB_HOME/scripts/preflight.sh" "$MODE"

mkdir -p "$LAB_STATE/log" "$LAB_STATE/run" "$LAB_STATE/backups"
echo "$MODE" >"$LAB_STATE/mode"
STORE=${LAB_BACKUP_STORE:-posix}
case $STORE in posix | swift) ;; *) die "LAB_BACKUP_STORE must be posix or swift, not '$STORE'" ;; esac
echo "$STORE" >"$LAB_STATE/backup-store"
# lab-up means a healthy lab: forget earlier disasters
rm -f "$LAB_STATE"/run/cut-* "$LAB_STATE"/run/blackout-*

if [ "$MODE" = shared ]; then
  bash "$LAB_HOME/scripts/infra-up.sh" "$LAB_STATE/shared"
fi

# start_site SITE: site-start.sh with its output prefixed and kept in a log
start_site() {
  bash "$LAB_HOME/scripts/site-start.sh" "$1" 2>&1 | tee "$LAB_STATE/log/up-site-$1.log" | sed -u "s/^/[site $1] /"
}
if [ "${LAB_PARALLEL:-1}" = 1 ]; then
  declare -A JOB=()
  for s in $SITES_ALL; do
    start_site "$s" &
    JOB[$s]=$!
  done
  rc=0
  for s in $SITES_ALL; do
    wait "${JOB[$s]}" || { rc=1; warn "site $s failed to start; its log: $LAB_STATE/log/up-site-$s.log"; }
  done
  [ "$rc" = 0 ] || die "lab-up failed"
else
  for s in $SITES_ALL; do start_site "$s" || die "site $s failed to start; its log: $LAB_STATE/log/up-site-$s.log"; done
fi
# each site synced the relays when it came up; now both are, so the inter-site link too
bash "$LAB_HOME/scripts/link.sh" sync
bash "$LAB_HOME/scripts/clouds-yaml.sh"
T2=$(date +%s)
log "lab up in $((T2 - T0)) s (packages $((T1 - T0)) s, sites $((T2 - T1)) s; mode $MODE, backup store $STORE)"
cat <<EOF

The lab is up:  site A http://127.0.1.1:5000/v3   site B http://127.0.2.1:5000/v3
Use it with the openstack CLI (call /usr/bin/openstack: a pyenv shim may shadow python3):
    export OS_CLIENT_CONFIG_FILE=$LAB_STATE/clouds.yaml
    /usr/bin/openstack --os-cloud lab-a server list     # also lab-b, lab-a-demo, lab-b-demo
or copy $LAB_STATE/clouds.yaml to ~/.config/openstack/clouds.yaml.
Status: bash devstack/lab/lab-status.sh    Stop: bash devstack/lab/lab-down.sh [--wipe]
EOF
