#!/bin/bash
# lab-status.sh: one line per daemon and per API endpoint of both sites.
# Exits 0 only when every daemon is alive and every endpoint answers from the
# host; a cut or blacked-out site therefore counts as down.
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "$0")/lib/common.sh"
[ -f "$LAB_STATE/mode" ] || { echo "no lab in $LAB_STATE (run devstack/lab/lab-up.sh)"; exit 1; }
MODE=$(lab_mode)
bad=0
INFRA="mariadb epmd rabbitmq ceph-mon ceph-osd"
OPENSTACK="keystone glance-api placement neutron-server nova-api nova-conductor nova-scheduler
 nova-compute cinder-api cinder-scheduler cinder-volume cinder-backup heat-api heat-engine
 swift-account swift-container swift-object swift-proxy"

flags=""
for f in "$LAB_STATE"/run/cut-* "$LAB_STATE"/run/blackout-*; do
  if [ -e "$f" ]; then flags="$flags $(basename "$f")"; fi
done
echo "lab in $LAB_STATE: mode $MODE, backup store $(cat "$LAB_STATE/backup-store" 2>/dev/null || echo posix), disasters:${flags:- none}"

daemon_line() { # daemon_line WHERE NAME PIDDIR
  local f=$3/$2.pid st pid=-
  if [ ! -f "$f" ]; then st=MISSING
  else
    pid=$(cat "$f")
    if proc_alive "$pid"; then st=up; else st=DEAD; fi
  fi
  [ "$st" = up ] || bad=1
  printf '%-8s %-18s %-8s %s\n' "$1" "$2" "$pid" "$st"
}
if [ "$MODE" = shared ]; then
  for n in $INFRA; do daemon_line shared "$n" "$LAB_STATE/shared/pids"; done
fi
for s in $SITES_ALL; do
  names=$OPENSTACK
  if [ "$MODE" = netns ]; then names="$INFRA $OPENSTACK"; fi
  for n in $names; do daemon_line "site-$s" "$n" "$(site_dir "$s")/pids"; done
done

# relays (netns mode): one line per group of 8, the expected state follows the flags
if [ "$MODE" = netns ]; then
  for s in $SITES_ALL; do
    o=$(other_site "$s")
    for g in "gw-$s" "relay-$s" "wan-$s-$o" "out-$s-$o"; do
      up=0
      for p in $API_PORTS; do
        if pid_alive "$HOST_PIDS/$g-$p.pid"; then up=$((up + 1)); fi
      done
      st=up
      [ "$up" = 8 ] || { st=DOWN; bad=1; }
      printf '%-8s %-18s %-8s %s\n' link "$g-*" "$up/8" "$st"
    done
  done
fi

for s in $SITES_ALL; do
  ip=$(site_ip "$s")
  for e in keystone:5000/v3 glance:9292/ placement:8778/ nova:8774/ neutron:9696/ cinder:8776/ heat:8004/ swift:8080/healthcheck; do
    name=${e%%:*} url=http://$ip:${e#*:}
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$url" 2>/dev/null || true)
    case $code in 2?? | 3?? | 401) st=up ;; *) st=DOWN; bad=1 ;; esac
    printf '%-8s %-18s %-8s %-4s %s\n' "site-$s" "$name" "$code" "$st" "$url"
  done
done
if [ "$bad" = 0 ]; then echo "lab OK"; else echo "lab NOT OK"; fi
exit "$bad"
