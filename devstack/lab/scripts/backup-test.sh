#!/bin/bash
# backup-test.sh SRC [DST]: data-bearing volume and backup round trip, as admin.
#   1. a 1 GiB volume at SRC gets known bytes written straight into its RBD image;
#   2. full backup, more writes, incremental backup;
#   3. both restored into new volumes at SRC, sha256 compared;
#   4. with DST: export_record of both backups at SRC, import_record at DST
#      (same store: the shared posix directory or site B's Swift), restore of
#      the incremental one at DST, sha256 compared.
# Works with either backup store (LAB_BACKUP_STORE at lab-up). Leaves nothing behind.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
SRC=${1:?usage: backup-test.sh SRC [DST]}
DST=${2:-}
site_ip "$SRC" >/dev/null
[ -z "$DST" ] || site_ip "$DST" >/dev/null
export OS_CLIENT_CONFIG_FILE=$LAB_STATE/clouds.yaml
o() { OS_CLOUD=lab-$1 "$OSC" "${@:2}"; }
# cinderclient for what OSC 6.0 lacks or gets wrong: `volume backup restore`
# crashes on its output ("cannot unpack non-iterable VolumeBackupsRestore"),
# and there is no export/import record.
cin() {
  local s=$1
  shift
  /usr/bin/cinder --os-auth-url "http://$(site_ip "$s"):5000/v3" --os-username admin \
    --os-password "$ADMIN_PASS" --os-project-name admin --os-user-domain-name Default \
    --os-project-domain-name Default --os-volume-api-version 3.64 "$@"
}
rio() { # rio SITE ARGS...: rbd_io.py against the site's Ceph
  local s=$1
  shift
  in_site "$s" env CEPH_CONF="$(infra_dir "$s")/ceph/ceph.conf" "$PY" "$LAB_HOME/scripts/rbd_io.py" "$@"
}
# wait_status SITE KIND ID WANT  (KIND: volume | "volume backup")
wait_status() {
  local s=$1 kind=$2 id=$3 want=$4 st="" i
  for ((i = 0; i < 300; i += 2)); do
    # shellcheck disable=SC2086  # KIND is one or two words on purpose
    st=$(o "$s" $kind show "$id" -f value -c status)
    [ "$st" = "$want" ] && return 0
    case $st in error*) break ;; esac
    sleep 2
  done
  die "$kind $id at site $s is '$st', expected '$want'"
}
CREATED=()   # "SITE KIND ID" to delete at the end
cleanup() {
  set +e
  local i s kind id n
  # backups first (newest first: an incremental before its parent), then the
  # volumes: cinder refuses to delete a volume while its backups are busy
  for pass in backup volume; do
    for ((i = ${#CREATED[@]} - 1; i >= 0; i--)); do
      read -r s kind id <<<"${CREATED[$i]}"
      [ "$kind" = "$pass" ] || continue
      if [ "$kind" = backup ]; then
        o "$s" volume backup delete "$id" >/dev/null 2>&1
        for ((n = 0; n < 60; n++)); do
          o "$s" volume backup show "$id" >/dev/null 2>&1 || break
          sleep 2
        done
      else
        o "$s" volume delete "$id" >/dev/null 2>&1
      fi
    done
  done
}
trap cleanup EXIT
new_volume() { # new_volume SITE NAME -> id
  local id
  id=$(o "$1" volume create "$2" --size 1 -f value -c id)
  CREATED+=("$1 volume $id")
  wait_status "$1" volume "$id" available
  echo "$id"
}
POOL() { echo "site-$1-volumes"; }
FAILED=0
check() { # check SITE VOLUME EXPECTED LABEL
  local got
  got=$(rio "$1" sha "$(POOL "$1")" "$2")
  if [ "$got" = "$3" ]; then log "OK   $4: sha256 matches"; else log "FAIL $4: sha256 $got != $3"; FAILED=1; fi
}
T=bk$$
log "backup store: $(cat "$LAB_STATE/backup-store" 2>/dev/null || echo posix)"
V=$(new_volume "$SRC" "$T-src")
rio "$SRC" write "$(POOL "$SRC")" "$V" 0 8 alpha >/dev/null
rio "$SRC" write "$(POOL "$SRC")" "$V" 500 4 beta >/dev/null
S1=$(rio "$SRC" sha "$(POOL "$SRC")" "$V")
t=$(date +%s)
B1=$(o "$SRC" volume backup create --name "$T-full" "$V" -f value -c id)
CREATED+=("$SRC backup $B1")
wait_status "$SRC" "volume backup" "$B1" available
log "full backup at site $SRC: $(($(date +%s) - t)) s"
rio "$SRC" write "$(POOL "$SRC")" "$V" 100 4 gamma >/dev/null
S2=$(rio "$SRC" sha "$(POOL "$SRC")" "$V")
t=$(date +%s)
B2=$(o "$SRC" volume backup create --name "$T-incr" --incremental "$V" -f value -c id)
CREATED+=("$SRC backup $B2")
wait_status "$SRC" "volume backup" "$B2" available
log "incremental backup at site $SRC: $(($(date +%s) - t)) s"

for pair in "$B1:$S1:full" "$B2:$S2:incremental"; do
  IFS=: read -r B S L <<<"$pair"
  RV=$(new_volume "$SRC" "$T-restore-$L")
  t=$(date +%s)
  cin "$SRC" backup-restore --volume "$RV" "$B" >/dev/null
  sleep 2
  wait_status "$SRC" volume "$RV" available
  log "restore of the $L backup at site $SRC: $(($(date +%s) - t)) s"
  check "$SRC" "$RV" "$S" "site $SRC restore of the $L backup"
done

if [ -n "$DST" ]; then
  # an incremental backup needs its parent: import the full one first
  for B in "$B1" "$B2"; do
    REC=$(cin "$SRC" backup-export "$B")
    SVC=$(awk -F'|' '/backup_service/ {gsub(/ /, "", $3); print $3}' <<<"$REC")
    URL=$(awk -F'|' '/backup_url/ {gsub(/ /, "", $3); print $3}' <<<"$REC")
    cin "$DST" backup-import "$SVC" "$URL" >/dev/null
    CREATED+=("$DST backup $B")
    wait_status "$DST" "volume backup" "$B" available
    log "backup $B exported at site $SRC, imported at site $DST"
  done
  RV=$(new_volume "$DST" "$T-dr-restore")
  t=$(date +%s)
  cin "$DST" backup-restore --volume "$RV" "$B2" >/dev/null
  sleep 2
  wait_status "$DST" volume "$RV" available
  log "restore of the imported incremental backup at site $DST: $(($(date +%s) - t)) s"
  check "$DST" "$RV" "$S2" "site $DST restore of site $SRC's incremental backup"
fi
if [ "$FAILED" = 0 ]; then log "BACKUP TEST PASSED"; else die "BACKUP TEST FAILED"; fi
