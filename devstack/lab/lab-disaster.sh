#!/bin/bash
# lab-disaster.sh SITE ACTION: simulate site failures for DR tests.
#   cut       sever every path between the site and the outside (host and the
#             other site); the site stays healthy inside      (inverse: heal)
#   blackout  additionally break all of the site's own connections, DB and
#             AMQP included (loopback down in its namespace)  (inverse: restore)
#   down      stop all of the site's processes                (inverse: up)
# In shared mode (no namespaces) cut is an iptables REJECT of the site's
# address and blackout also freezes the site's processes (SIGSTOP).
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
need_root "$@"
SITE=${1:-}
ACTION=${2:-}
usage="usage: lab-disaster.sh a|b cut|heal|blackout|restore|down|up"
case $SITE in a | b) ;; *) die "$usage" ;; esac
[ -f "$LAB_STATE/mode" ] || die "no lab in $LAB_STATE (run lab-up.sh first)"
MODE=$(lab_mode)
RUN=$LAB_STATE/run
NS=$(netns_name "$SITE")
SD=$(site_dir "$SITE")
mkdir -p "$RUN"

# signal_site SIG: every daemon process group of the site (shared-mode blackout)
signal_site() {
  local f
  for f in "$SD"/pids/*.pid; do
    if pid_alive "$f"; then kill "-$1" -- "-$(cat "$f")" 2>/dev/null || true; fi
  done
}

case $ACTION in
  cut)
    touch "$RUN/cut-$SITE"
    bash "$LAB_HOME/scripts/link.sh" sync
    ;;
  heal)
    rm -f "$RUN/cut-$SITE"
    bash "$LAB_HOME/scripts/link.sh" sync
    ;;
  blackout)
    touch "$RUN/blackout-$SITE"
    bash "$LAB_HOME/scripts/link.sh" sync
    if [ "$MODE" = netns ]; then
      ip netns exec "$NS" ip link set lo down
    else
      signal_site STOP
    fi
    ;;
  restore)
    if [ "$MODE" = netns ]; then
      ip netns exec "$NS" ip link set lo up
    else
      signal_site CONT
    fi
    rm -f "$RUN/blackout-$SITE"
    bash "$LAB_HOME/scripts/link.sh" sync
    ;;
  down)
    bash "$LAB_HOME/scripts/site-stop.sh" "$SITE"
    ;;
  up)
    if [ "$MODE" = shared ]; then bash "$LAB_HOME/scripts/infra-up.sh" "$LAB_STATE/shared"; fi
    bash "$LAB_HOME/scripts/site-start.sh" "$SITE"
    ;;
  *) die "$usage" ;;
esac
log "site $SITE: $ACTION done"
