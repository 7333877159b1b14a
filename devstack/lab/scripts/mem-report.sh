#!/bin/bash
# mem-report.sh: RSS and PSS of every lab daemon (whole process group: forked
# workers included) and the total. PSS splits shared pages between the
# processes that share them, so unlike RSS it adds up correctly.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
tot_rss=0
tot_pss=0
declare -A grp_pss=()
printf '%-30s %5s %8s %8s\n' NAME PROCS RSS_MiB PSS_MiB
table=$(ps -e -o pid=,pgid=)
for f in "$LAB_STATE"/shared/pids/*.pid "$LAB_STATE"/site-*/pids/*.pid "$HOST_PIDS"/*.pid; do
  [ -f "$f" ] || continue
  d=$(basename "$(dirname "$(dirname "$f")")")
  n=$d/$(basename "$f" .pid)
  g=$(cat "$f")
  pids=$(awk -v g="$g" '$2 == g {print $1}' <<<"$table")
  [ -n "$pids" ] || continue
  rss=0 pss=0 c=0
  for p in $pids; do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
    s=$(awk '/^Pss:/ {s += $2} END {print s + 0}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    rss=$((rss + ${r:-0})) pss=$((pss + ${s:-0})) c=$((c + 1))
  done
  tot_rss=$((tot_rss + rss)) tot_pss=$((tot_pss + pss))
  key=$d
  case $n in host/*) key=relays ;; esac
  grp_pss[$key]=$((${grp_pss[$key]:-0} + pss))
  # the 64 relays would drown the table: show them only in the group totals
  case $n in host/*) continue ;; esac
  printf '%-30s %5d %8d %8d\n' "$n" "$c" $((rss / 1024)) $((pss / 1024))
done
for k in "${!grp_pss[@]}"; do printf '%-30s %5s %8s %8d\n' "TOTAL $k" "" "" $((grp_pss[$k] / 1024)); done | sort
printf '%-30s %5s %8d %8d\n' TOTAL "" $((tot_rss / 1024)) $((tot_pss / 1024))
