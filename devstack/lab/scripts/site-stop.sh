#!/bin/bash
# site-stop.sh SITE: stop every daemon of one site by its pid files (in
# netns mode also the site's MariaDB, RabbitMQ and Ceph), then drop the relays
# that led to it. Never stops anything by process name.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
SITE=${1:?usage: site-stop.sh a|b}
site_ip "$SITE" >/dev/null
SD=$(site_dir "$SITE")
if [ "$(lab_mode)" = netns ]; then
  NS=$(netns_name "$SITE")
  # after a blackout the daemons need loopback to shut down cleanly
  if netns_exists "$NS"; then ip netns exec "$NS" ip link set lo up; fi
  rm -f "$LAB_STATE/run/blackout-$SITE"
fi
# OpenStack first (they close DB and AMQP connections on TERM), infra last.
INFRA_DAEMONS="ceph-osd ceph-mon rabbitmq epmd mariadb"
for f in "$SD"/pids/*.pid; do
  [ -f "$f" ] || continue
  n=$(basename "$f" .pid)
  [[ " $INFRA_DAEMONS " == *" $n "* ]] || stop_daemon "$f" &
done
wait_pids=$(jobs -p)
for p in $wait_pids; do wait "$p" || true; done
for n in $INFRA_DAEMONS; do stop_daemon "$SD/pids/$n.pid"; done
if [ -d "$LAB_STATE/host/pids" ]; then bash "$LAB_HOME/scripts/link.sh" sync; fi
log "site $SITE stopped"
