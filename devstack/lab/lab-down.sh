#!/bin/bash
# lab-down.sh [--wipe]: stop the lab. Only processes the lab started are
# stopped, each by its own pid file (pid = process group), never by name.
# The state in $LAB_STATE is kept, so the next lab-up.sh is a warm start.
#   --wipe   also delete $LAB_STATE and the namespaces ferry-a and ferry-b
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
need_root "$@"
WIPE=0
case ${1:-} in
  "") ;;
  --wipe) WIPE=1 ;;
  *) die "usage: lab-down.sh [--wipe]" ;;
esac
T0=$(date +%s)

if [ -d "$LAB_STATE" ]; then
  # host relays first: nothing new reaches the sites while they stop
  bash "$LAB_HOME/scripts/link.sh" stop
  declare -A JOB=()
  for s in $SITES_ALL; do
    if [ -d "$(site_dir "$s")/pids" ]; then
      bash "$LAB_HOME/scripts/site-stop.sh" "$s" &
      JOB[$s]=$!
    fi
  done
  for s in "${!JOB[@]}"; do wait "${JOB[$s]}" || warn "stopping site $s reported an error"; done
  # shared mode: the infrastructure both sites used
  for n in ceph-osd ceph-mon rabbitmq epmd mariadb; do stop_daemon "$LAB_STATE/shared/pids/$n.pid"; done
fi

if [ "$WIPE" = 1 ]; then
  for s in $SITES_ALL; do
    ns=$(netns_name "$s")
    if netns_exists "$ns"; then ip netns delete "$ns"; fi
  done
  # refuse obviously wrong targets: LAB_STATE is deleted recursively
  case $LAB_STATE in
    / | /var | /var/lib | /root | /home | /tmp | /etc | /usr | "") die "refusing to wipe LAB_STATE=$LAB_STATE" ;;
  esac
  rm -rf "$LAB_STATE"
  log "wiped $LAB_STATE and the namespaces"
fi
log "lab down in $(($(date +%s) - T0)) s"
