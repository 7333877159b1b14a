#!/bin/bash
# install.sh: install the Debian 12 (bookworm, OpenStack Zed) packages the lab
# needs. Idempotent: does nothing when everything is installed.
#
# Why it looks like this:
#  * There is no systemd here and the lab runs every daemon itself, so no
#    postinst may start one. invoke-rc.d honours /usr/sbin/policy-rc.d exiting
#    101. If the machine has none we create it for the install and remove it
#    afterwards; an existing one is left exactly as found.
#  * openstack-pkg-tools postinsts ask debconf whether to create databases,
#    register endpoints, configure keystone auth or rabbit. All preseeded to
#    false so no postinst touches a database, a broker or a keystone.
#  * --no-install-recommends keeps libvirt and qemu out. nova-compute needs some
#    nova-compute-hypervisor; nova-compute-ironic is the lightest (the lab runs
#    the fake virt driver from pylib/).
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
need_root "$@"

PKGS=(
  # OpenStack Zed
  keystone glance-api placement-api
  nova-api nova-conductor nova-scheduler nova-compute nova-compute-ironic
  neutron-server
  cinder-api cinder-scheduler cinder-volume cinder-backup
  heat-api heat-engine
  swift-proxy swift-account swift-container swift-object
  python3-openstackclient python3-heatclient python3-swiftclient python3-cinderclient
  uwsgi-plugin-python3
  # infrastructure of each site
  mariadb-server rabbitmq-server
  ceph-mon ceph-osd ceph-common python3-rbd python3-rados
  # plumbing: namespaces, relays, probes
  iproute2 iptables socat curl procps psmisc uuid-runtime sudo debconf-utils
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "packages: all ${#PKGS[@]} already installed"
  exit 0
fi
log "packages: installing ${#missing[@]} missing: ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
created_policy=0
cleanup() {
  if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# temporary, created by ferry devstack/lab/scripts/install.sh\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi

{
  for p in keystone glance glance-api glance-common placement placement-api placement-common \
    nova nova-common nova-api nova-compute neutron neutron-common neutron-server \
    cinder cinder-common cinder-api cinder-volume cinder-backup cinder-scheduler \
    heat heat-common heat-api heat-engine swift swift-proxy; do
    for q in configure_db dbconfig-install register-endpoint configure_ksat configure_rabbit \
      configure_api-endpoint; do
      echo "$p $p/$q boolean false"
    done
  done
  echo "keystone keystone/create-admin-tenant boolean false"
  echo "keystone keystone/init-keystone boolean false"
  echo "dbconfig-common dbconfig-common/dbconfig-install boolean false"
} | debconf-set-selections

mkdir -p "$LAB_STATE/log"
APTLOG=$LAB_STATE/log/apt-install.log
t0=$(date +%s)
# A fresh machine may have no package lists yet, or stale ones. Unreachable
# third-party sources only warn; a real problem shows in the install below.
apt-get update >"$APTLOG" 2>&1 || warn "apt-get update reported errors (see $APTLOG); trying the install anyway"
if ! apt-get install -y --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" >>"$APTLOG" 2>&1; then
  tail -n 20 "$APTLOG" >&2
  die "apt-get install failed; full log in $APTLOG"
fi
log "packages: installed in $(($(date +%s) - t0)) s"
