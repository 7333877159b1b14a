#!/bin/bash
# backup-cut-test.sh: with LAB_BACKUP_STORE=swift, site A's backups go to site
# B's Swift over the inter-site link. Check that cutting site B makes a backup
# at site A fail, and that after heal the same backup works. Heals site B and
# deletes what it created even when it fails.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
need_root "$@"
[ "$(cat "$LAB_STATE/backup-store" 2>/dev/null)" = swift ] ||
  die "the lab's backup store is not swift; run: lab-down.sh && LAB_BACKUP_STORE=swift lab-up.sh"
export OS_CLIENT_CONFIG_FILE=$LAB_STATE/clouds.yaml OS_CLOUD=lab-a
o() { "$OSC" "$@"; }
T=cut$$
VOL="" B1="" B2=""
cleanup() {
  set +e
  bash "$LAB_HOME/lab-disaster.sh" b heal >/dev/null
  for b in $B2 $B1; do
    o volume backup delete --force "$b" >/dev/null 2>&1
    for _ in $(seq 1 60); do o volume backup show "$b" >/dev/null 2>&1 || break; sleep 2; done
  done
  if [ -n "$VOL" ]; then o volume delete "$VOL" >/dev/null 2>&1; fi
}
trap cleanup EXIT
# final_status KIND ID: wait until the status leaves the transient ones
final_status() {
  local st="" i
  for ((i = 0; i < 240; i += 2)); do
    # shellcheck disable=SC2086  # KIND is one or two words on purpose
    st=$(o $1 show "$2" -f value -c status)
    case $st in creating | backing-up | restoring* | deleting) sleep 2 ;; *) break ;; esac
  done
  echo "$st"
}
VOL=$(o volume create "$T-vol" --size 1 -f value -c id)
[ "$(final_status volume "$VOL")" = available ] || die "volume $VOL did not become available"

bash "$LAB_HOME/lab-disaster.sh" b cut
t=$(date +%s)
B1=$(o volume backup create --name "$T-during-cut" "$VOL" -f value -c id)
st1=$(final_status "volume backup" "$B1")
log "backup at site A while site B is cut: $st1 after $(($(date +%s) - t)) s"
bash "$LAB_HOME/lab-disaster.sh" b heal
# the failed backup left the volume usable again
[ "$(final_status volume "$VOL")" = available ] || die "volume $VOL is not available after the failed backup"
t=$(date +%s)
B2=$(o volume backup create --name "$T-after-heal" "$VOL" -f value -c id)
st2=$(final_status "volume backup" "$B2")
log "backup at site A after heal: $st2 after $(($(date +%s) - t)) s"
if [ "$st1" = error ] && [ "$st2" = available ]; then
  log "BACKUP CUT TEST PASSED: site A's backups depend on the link to site B"
else
  die "BACKUP CUT TEST FAILED (during cut: $st1, after heal: $st2)"
fi
