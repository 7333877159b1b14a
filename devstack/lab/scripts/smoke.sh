#!/bin/bash
# smoke.sh SITE [CLOUD]: quick end-to-end check of one site through the
# generated clouds.yaml and /usr/bin/openstack (default cloud lab-SITE-demo,
# i.e. as the unprivileged demo user): network + subnet, volume, server (fake
# driver) with the volume attached, a Heat stack with server + volume +
# attachment, a Swift object round trip. Deletes everything it created.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
SITE=${1:?usage: smoke.sh a|b [cloud]}
site_ip "$SITE" >/dev/null
export OS_CLIENT_CONFIG_FILE=$LAB_STATE/clouds.yaml OS_CLOUD=${2:-lab-$SITE-demo}
o() { "$OSC" "$@"; }
T0=$(date +%s)
P=smoke-$$
TMP=$(mktemp -d)
cleanup() {
  set +e
  o stack delete --yes --wait "$P-stack" >/dev/null 2>&1
  o server delete --wait "$P-vm" >/dev/null 2>&1
  o volume delete "$P-vol" >/dev/null 2>&1
  o subnet delete "$P-subnet" >/dev/null 2>&1
  o network delete "$P-net" >/dev/null 2>&1
  o object delete "$P-c" blob >/dev/null 2>&1
  o container delete "$P-c" >/dev/null 2>&1
  rm -rf "$TMP"
}
trap cleanup EXIT
# wait_for KIND NAME FIELD WANT [TIMEOUT]
wait_for() {
  local v="" i
  for ((i = 0; i < ${5:-120}; i += 2)); do
    v=$(o "$1" show "$2" -f value -c "$3")
    [ "$v" = "$4" ] && return 0
    case $v in error* | ERROR*) break ;; esac
    sleep 2
  done
  die "$1 $2: $3 is '$v', expected '$4'"
}
ok() { log "OK  $*"; }

o network create "$P-net" -f value -c id >/dev/null
o subnet create "$P-subnet" --network "$P-net" --subnet-range 192.0.2.0/24 -f value -c id >/dev/null
ok "network + subnet"
o volume create "$P-vol" --size 1 -f value -c id >/dev/null
wait_for volume "$P-vol" status available
ok "volume (Ceph RBD)"
o server create "$P-vm" --flavor m1.tiny --image lab-tiny --network "$P-net" --wait -f value -c id >/dev/null
ok "server ACTIVE (fake driver)"
o server add volume "$P-vm" "$P-vol" >/dev/null
wait_for volume "$P-vol" status in-use
ok "volume attached"

cat >"$TMP/stack.yaml" <<EOF
heat_template_version: 2018-08-31
resources:
  vol:
    type: OS::Cinder::Volume
    properties: {size: 1}
  srv:
    type: OS::Nova::Server
    properties:
      image: lab-tiny
      flavor: m1.tiny
      networks: [{network: $P-net}]
  att:
    type: OS::Cinder::VolumeAttachment
    properties:
      instance_uuid: {get_resource: srv}
      volume_id: {get_resource: vol}
EOF
o stack create "$P-stack" -t "$TMP/stack.yaml" --wait >/dev/null || true
st=$(o stack show "$P-stack" -f value -c stack_status)
[ "$st" = CREATE_COMPLETE ] || die "stack: $st: $(o stack show "$P-stack" -f value -c stack_status_reason)"
ok "heat stack (server + volume + attachment) CREATE_COMPLETE"

head -c 65536 /dev/urandom >"$TMP/blob"
o container create "$P-c" >/dev/null
(cd "$TMP" && o object create "$P-c" blob >/dev/null && o object save --file blob.out "$P-c" blob)
cmp -s "$TMP/blob" "$TMP/blob.out" || die "swift object differs after the round trip"
ok "swift object round trip"
log "site $SITE smoke test passed as $OS_CLOUD in $(($(date +%s) - T0)) s"
