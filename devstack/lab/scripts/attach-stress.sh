#!/bin/bash
# attach-stress.sh SITE N: N servers (fake driver) and N Ceph volumes, then all
# N attachments at once, through one Heat stack, as the admin of SITE:
#   1. stack create: a network, N volumes, N servers, no attachments;
#   2. stack update attach=true: Heat issues the N attachments concurrently
#      (each makes cinder-volume run `ceph mon dump` in initialize_connection,
#      the path that used to fail with EPERM under concurrency, see docs/lab.md);
#   3. checks that every volume is in-use and attached to its server;
#   4. stack delete.
# Prints one summary line and exits non-zero on any failure. The cinder-volume
# log is searched for the old EPERM symptom as well.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
SITE=${1:?usage: attach-stress.sh a|b N}
N=${2:?usage: attach-stress.sh a|b N}
site_ip "$SITE" >/dev/null
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number"
export OS_CLIENT_CONFIG_FILE=$LAB_STATE/clouds.yaml OS_CLOUD=lab-$SITE
o() { "$OSC" "$@"; }
STACK=stress-$$
TMP=$(mktemp -d)
VLOG=$(site_dir "$SITE")/log/cinder-volume.log
VLOG_START=$(wc -l <"$VLOG" 2>/dev/null || echo 0)
cleanup() {
  set +e
  if o stack show "$STACK" >/dev/null 2>&1; then o stack delete --yes --wait "$STACK" >/dev/null 2>&1; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

{
  cat <<EOF
heat_template_version: 2018-08-31
description: ferry lab attach stress, $N servers and volumes
parameters:
  attach: {type: boolean, default: false}
conditions:
  do_attach: {get_param: attach}
resources:
  net:
    type: OS::Neutron::Net
  subnet:
    type: OS::Neutron::Subnet
    properties: {network: {get_resource: net}, cidr: 198.18.0.0/16}
EOF
  for ((i = 1; i <= N; i++)); do
    cat <<EOF
  vol$i:
    type: OS::Cinder::Volume
    properties: {size: 1, name: $STACK-vol$i}
  srv$i:
    type: OS::Nova::Server
    depends_on: subnet
    properties:
      name: $STACK-srv$i
      image: lab-tiny
      flavor: m1.tiny
      networks: [{network: {get_resource: net}}]
  att$i:
    type: OS::Cinder::VolumeAttachment
    condition: do_attach
    properties: {instance_uuid: {get_resource: srv$i}, volume_id: {get_resource: vol$i}}
EOF
  done
} >"$TMP/stack.yaml"

stack_status() { o stack show "$STACK" -f value -c stack_status; }
stack_fail() {
  log "stack $STACK: $(stack_status): $(o stack show "$STACK" -f value -c stack_status_reason)"
  o stack resource list "$STACK" -f value -c resource_name -c resource_status -c resource_status_reason |
    grep -v COMPLETE | head -n 20 || true
}
t0=$(date +%s)
# --timeout (minutes): a failed attachment leaves Heat waiting for in-use
o stack create "$STACK" -t "$TMP/stack.yaml" --timeout 15 --wait >/dev/null 2>&1 || true
t1=$(date +%s)
[ "$(stack_status)" = CREATE_COMPLETE ] || { stack_fail; die "create of $N servers and volumes failed"; }
log "created $N servers and $N volumes in $((t1 - t0)) s; attaching all at once"
o stack update "$STACK" --existing --parameter attach=true --timeout 5 --wait >/dev/null 2>&1 || true
t2=$(date +%s)
st=$(stack_status)

# every volume of the stack must be in-use, attached to its own server
vols=$(o volume list --long -f value -c Name -c Status -c "Attached to")
inuse=$(grep -c "^$STACK-vol[0-9]* in-use" <<<"$vols" || true)
eperm=$(tail -n +"$((VLOG_START + 1))" "$VLOG" 2>/dev/null | grep -c -e EPERM -e 'problem getting command descriptions' || true)
result=PASS
if [ "$st" != UPDATE_COMPLETE ] || [ "$inuse" != "$N" ]; then
  result=FAIL
  stack_fail
fi
o stack delete --yes --wait "$STACK" >/dev/null 2>&1 || { result=FAIL; log "stack delete failed"; }
t3=$(date +%s)
log "attach-stress site $SITE N=$N: create $((t1 - t0)) s, attach $((t2 - t1)) s ($st), in-use $inuse/$N, EPERM in cinder-volume log $eperm, delete $((t3 - t2)) s: $result"
[ "$result" = PASS ]
