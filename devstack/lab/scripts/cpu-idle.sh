#!/bin/bash
# cpu-idle.sh [SECONDS]: CPU use over SECONDS (default 60), as a percentage of
# all cores: the whole machine (from /proc/stat) and the lab's own share (the
# process groups of its pid files), so other work on the machine does not
# inflate the lab's idle figure. Run it with the lab up and no test running.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
SECS=${1:-60}
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)

# lab_ticks: utime+stime of every live process in a lab process group
lab_ticks() {
  local f line groups=" " sum=0 fld
  for f in "$LAB_STATE"/shared/pids/*.pid "$LAB_STATE"/site-*/pids/*.pid "$HOST_PIDS"/*.pid; do
    [ -f "$f" ] && groups="$groups$(cat "$f") "
  done
  for f in /proc/[0-9]*/stat; do
    line=$(cat "$f" 2>/dev/null) || continue
    # after "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt
    # majflt cmajflt utime stime ...
    read -r -a fld <<<"${line##*) }"
    [[ "$groups" == *" ${fld[2]} "* ]] && sum=$((sum + fld[11] + fld[12]))
  done
  echo "$sum"
}
read -r _ u1 n1 s1 i1 w1 q1 sq1 st1 _ </proc/stat
l1=$(lab_ticks)
sleep "$SECS"
read -r _ u2 n2 s2 i2 w2 q2 sq2 st2 _ </proc/stat
l2=$(lab_ticks)
busy=$(((u2 + n2 + s2 + q2 + sq2 + st2) - (u1 + n1 + s1 + q1 + sq1 + st1)))
idle=$(((i2 + w2) - (i1 + w1)))
awk -v b="$busy" -v i="$idle" -v l="$((l2 - l1))" -v s="$SECS" -v n="$NCPU" -v hz="$HZ" 'BEGIN {
  printf "over %d s on %d cores: machine busy %.1f %%, lab processes %.1f %%\n",
    s, n, 100 * b / (b + i), 100 * l / (hz * s * n) }'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
