#!/bin/bash
# preflight.sh MODE: refuse to start the lab when it cannot work, and say why
# and what to do. Checks memory and disk (skipped for memory when the lab is
# already running: a re-run of lab-up.sh only starts what is missing) and that
# no foreign process holds a port the lab needs on the host.
#   LAB_MIN_MEM_GB (default 8), LAB_MIN_DISK_GB (default 15) change the limits.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
MODE=${1:?usage: preflight.sh netns|shared}
MIN_MEM=${LAB_MIN_MEM_GB:-8}
MIN_DISK=${LAB_MIN_DISK_GB:-15}
fail=0

# every pid of every process group the lab started (its own listeners are fine)
our_pids() {
  local f g
  for f in "$LAB_STATE"/site-*/pids/*.pid "$LAB_STATE"/shared/pids/*.pid "$HOST_PIDS"/*.pid; do
    [ -f "$f" ] || continue
    g=$(cat "$f")
    ps -e -o pid=,pgid= | awk -v g="$g" '$2 == g {print $1}'
  done
}
lab_running() {
  local s
  for s in $SITES_ALL; do
    if pid_alive "$(site_dir "$s")/pids/keystone.pid"; then return 0; fi
  done
  return 1
}

# ---- memory
if ! lab_running; then
  avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  if [ "$avail_kb" -lt $((MIN_MEM * 1024 * 1024)) ]; then
    printf 'ERROR: only %s MiB of memory available; the two sites need about 6 GiB and the tests more (minimum %s GiB).\n' \
      "$((avail_kb / 1024))" "$MIN_MEM" >&2
    echo "       Stop other workloads, or set LAB_MIN_MEM_GB lower at your own risk." >&2
    fail=1
  fi
fi

# ---- disk (the nearest existing parent of the state directory)
d=$LAB_STATE
while [ ! -d "$d" ]; do d=$(dirname "$d"); done
free_kb=$(df -Pk "$d" | awk 'NR == 2 {print $4}')
if [ "$free_kb" -lt $((MIN_DISK * 1024 * 1024)) ]; then
  printf 'ERROR: only %s GiB free on the filesystem of %s (minimum %s GiB: packages, databases, two 10 GiB sparse Ceph OSD files).\n' \
    "$((free_kb / 1024 / 1024))" "$d" "$MIN_DISK" >&2
  echo "       Free some space, or point LAB_STATE at a bigger filesystem." >&2
  fail=1
fi

# ---- ports on the host
# netns mode: only the relays listen on the host (site addresses, API ports).
# shared mode: every daemon does, and the infrastructure on 127.0.0.1.
declare -A NEED=()
for s in $SITES_ALL; do
  for p in $API_PORTS; do NEED["$(site_ip "$s"):$p"]=1; done
  if [ "$MODE" = shared ]; then
    for p in 6200 6201 6202; do NEED["$(site_ip "$s"):$p"]=1; done
  fi
done
if [ "$MODE" = shared ]; then
  for p in 3306 4369 5672 6789 25672; do NEED["127.0.0.1:$p"]=1; done
fi
mine=" $(our_pids | tr '\n' ' ') "
listeners=$(ss -Hltnp 2>/dev/null || true)
while read -r _ _ _ local _ users; do
  [ -n "${local:-}" ] || continue
  addr=${local%:*} port=${local##*:}
  addr=${addr#[}
  addr=${addr%]}
  hit=""
  case $addr in
    0.0.0.0 | '*' | '::' | '::ffff:0.0.0.0')
      for k in "${!NEED[@]}"; do [ "${k##*:}" = "$port" ] && hit=$k; done ;;
    *) [ -n "${NEED[$addr:$port]:-}" ] && hit=$addr:$port ;;
  esac
  [ -n "$hit" ] || continue
  pid=$(grep -o 'pid=[0-9]*' <<<"$users" | head -n 1 | cut -d= -f2)
  if [ -n "$pid" ] && [[ "$mine" == *" $pid "* ]]; then continue; fi
  prog=$(grep -o '(("[^"]*"' <<<"$users" | head -n 1 | tr -d '("')
  printf 'ERROR: port %s is needed by the lab but %s:%s is held by %s (pid %s).\n' \
    "$hit" "$addr" "$port" "${prog:-an unknown process}" "${pid:-?}" >&2
  echo "       Stop that process (see: ss -ltnp | grep ':$port ') and run lab-up.sh again." >&2
  fail=1
done <<<"$listeners"

[ "$fail" = 0 ] || exit 1
log "preflight ok (mode $MODE)"
