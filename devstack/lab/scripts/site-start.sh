#!/bin/bash
# site-start.sh SITE: start one site where it lives, then its relays.
#   netns mode:  namespace ferry-SITE (created if missing, lo up), where
#                site-up.sh starts the site's own MariaDB, RabbitMQ and Ceph
#                and then its OpenStack services;
#   shared mode: on the host, using the shared infrastructure (infra-up.sh
#                $LAB_STATE/shared must have run).
# Either way site-up.sh runs in a private mount namespace (`ip netns exec`
# makes one; in shared mode unshare does), see site-up.sh for why.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
SITE=${1:?usage: site-start.sh a|b}
site_ip "$SITE" >/dev/null
mkdir -p "$LAB_STATE/run"
if [ "$(lab_mode)" = netns ]; then
  NS=$(netns_name "$SITE")
  netns_exists "$NS" || ip netns add "$NS"
  # a site started after a blackout needs its loopback back
  ip netns exec "$NS" ip link set lo up
  rm -f "$LAB_STATE/run/blackout-$SITE"
  ip netns exec "$NS" bash "$LAB_HOME/scripts/site-up.sh" "$SITE"
else
  rm -f "$LAB_STATE/run/blackout-$SITE"
  unshare --mount --propagation slave bash "$LAB_HOME/scripts/site-up.sh" "$SITE"
fi
bash "$LAB_HOME/scripts/link.sh" sync
