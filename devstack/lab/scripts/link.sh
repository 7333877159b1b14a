#!/bin/bash
# link.sh sync|stop: the paths into and between the sites.
#
# netns mode, for each site X (namespace ferry-X, address IP_X) and API port P:
#   gw-X-P      in ferry-X  unix socket link/X-P.sock -> TCP IP_X:P
#               the site's gateway; only the relays below use it
#   relay-X-P   on the host TCP IP_X:P -> link/X-P.sock
#               how the host (DR engine, openstack CLI, tests) reaches X
#   out-X-Y-P   in ferry-X  TCP IP_Y:P -> link/X-to-Y-P.sock
#               the inter-site link as seen from inside X: services of X call
#               the other site's URLs unchanged (inside a namespace lo owns
#               all of 127/8, so X can listen on Y's address)
#   wan-X-Y-P   on the host link/X-to-Y-P.sock -> TCP IP_Y:P (= relay-Y-P)
# So every path from outside into X, and from X to anywhere, goes through
# relay-X-* or out-*: stopping those severs the site (cut) while it stays
# healthy inside. Connections are then refused, not hung.
#
# shared mode: there are no namespaces and no relays; a severed site gets
# iptables REJECT rules for its address (which also breaks the site's own
# calls to its API: the best loopback can do without namespaces).
#
# `sync` starts or stops relays to match what is alive and the flags set by
# lab-disaster.sh ($LAB_STATE/run/cut-X, blackout-X). `stop` stops all of them.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
ACTION=${1:?usage: link.sh sync|stop}
RUN=$LAB_STATE/run
mkdir -p "$RUN" "$LINK_DIR" "$HOST_PIDS" "$HOST_LOG"

site_alive() {
  pid_alive "$(site_dir "$1")/pids/keystone.pid" || return 1
  [ "$(lab_mode)" = shared ] || netns_exists "$(netns_name "$1")"
}
severed() { [ -e "$RUN/cut-$1" ] || [ -e "$RUN/blackout-$1" ]; }

# want NAME YES|NO CMD...: make daemon NAME run (or not). Stops run in the
# background (each waits for its process to exit); sync waits for them all.
STOPS=()
want() {
  local name=$1 yes=$2
  shift 2
  if [ "$yes" = yes ]; then
    start_daemon "$HOST_PIDS" "$HOST_LOG" "$name" "$@"
  elif [ -f "$HOST_PIDS/$name.pid" ]; then
    stop_daemon "$HOST_PIDS/$name.pid" &
    STOPS+=($!)
  fi
}
yn() { if "$@"; then echo yes; else echo no; fi; }

sync_netns() {
  local x y p ipx ipy nsx alive_x sev_x gw relay out wan
  for x in $SITES_ALL; do
    y=$(other_site "$x")
    ipx=$(site_ip "$x")
    ipy=$(site_ip "$y")
    nsx=$(netns_name "$x")
    alive_x=$(yn site_alive "$x")
    sev_x=$(yn severed "$x")
    gw=$alive_x
    relay=no
    [ "$alive_x" = yes ] && [ "$sev_x" = no ] && relay=yes
    wan=no
    out=no
    if [ "$alive_x" = yes ] && site_alive "$y"; then
      wan=yes
      [ "$sev_x" = no ] && ! severed "$y" && out=yes
    fi
    for p in $API_PORTS; do
      want "gw-$x-$p" "$gw" ip netns exec "$nsx" \
        socat "UNIX-LISTEN:$LINK_DIR/$x-$p.sock,fork,unlink-early,mode=600" "TCP:$ipx:$p"
      want "relay-$x-$p" "$relay" \
        socat "TCP-LISTEN:$p,bind=$ipx,reuseaddr,fork,backlog=256" "UNIX-CONNECT:$LINK_DIR/$x-$p.sock"
      want "wan-$x-$y-$p" "$wan" \
        socat "UNIX-LISTEN:$LINK_DIR/$x-to-$y-$p.sock,fork,unlink-early,mode=600" "TCP:$ipy:$p"
      want "out-$x-$y-$p" "$out" ip netns exec "$nsx" \
        socat "TCP-LISTEN:$p,bind=$ipy,reuseaddr,fork,backlog=256" "UNIX-CONNECT:$LINK_DIR/$x-to-$y-$p.sock"
    done
    for p in "${STOPS[@]}"; do wait "$p" || true; done
    STOPS=()
    # listeners must be there when we return (callers probe right away)
    if [ "$relay" = yes ]; then
      for p in $API_PORTS; do
        wait_tcp "$ipx" "$p" 10 || { check_daemon "$HOST_PIDS" "$HOST_LOG" "relay-$x-$p"; die "relay $ipx:$p is not listening"; }
      done
    fi
  done
}

# iptables rules we own carry this comment, so we never touch anyone else's.
sync_shared() {
  local x ip rules
  for x in $SITES_ALL; do
    ip=$(site_ip "$x")
    rules=$(iptables -S OUTPUT 2>/dev/null || true)
    if severed "$x"; then
      grep -q -- "ferry-lab-cut-$x" <<<"$rules" ||
        iptables -I OUTPUT -d "$ip/32" -p tcp -m comment --comment "ferry-lab-cut-$x" -j REJECT --reject-with tcp-reset
    else
      while grep -q -- "ferry-lab-cut-$x" <<<"$rules"; do
        iptables -D OUTPUT -d "$ip/32" -p tcp -m comment --comment "ferry-lab-cut-$x" -j REJECT --reject-with tcp-reset
        rules=$(iptables -S OUTPUT 2>/dev/null || true)
      done
    fi
  done
}

case $ACTION in
  sync)
    if [ "$(lab_mode)" = netns ]; then sync_netns; else sync_shared; fi
    ;;
  stop)
    stop_pids "$HOST_PIDS"
    rm -f "$LINK_DIR"/*.sock
    # the disaster flags die with the lab; drop our iptables rules with them
    rm -f "$RUN"/cut-* "$RUN"/blackout-*
    if [ "$(lab_mode)" = shared ]; then sync_shared; fi
    ;;
  *) die "usage: link.sh sync|stop" ;;
esac
