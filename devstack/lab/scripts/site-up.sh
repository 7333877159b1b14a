#!/bin/bash
# site-up.sh SITE: configure and start one OpenStack site (a or b). Run it
# through site-start.sh, which puts it where the site lives: inside the site's
# network namespace (netns mode) or on the host (shared mode), and in both
# cases in a private mount namespace (see the /etc/ceph note below).
#
# Site A serves on 127.0.1.1, site B on 127.0.2.1, with the standard ports.
# Every config is regenerated on each run under $LAB_STATE/site-X/etc/; the
# packaged /etc/<service> files are never written (only the packaged
# api-paste.ini files are read). Databases are created and synced once
# (markers in site-X/marks/), so a warm start only starts daemons.
#
# Env: LAB_STATE, LAB_DEBUG=true (debug logging everywhere),
#      NOVA_DRIVER (default labfake_virt.LabFakeDriver from pylib/).
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
SITE=${1:?usage: site-up.sh a|b}
IP=$(site_ip "$SITE")
MODE=$(lab_mode)
SD=$(site_dir "$SITE")
INFRA=$(infra_dir "$SITE")
ETC=$SD/etc
PIDS=$SD/pids
LOGS=$SD/log
BACKUP_STORE=$(cat "$LAB_STATE/backup-store" 2>/dev/null || echo posix)
DEBUG=${LAB_DEBUG:-false}
T0=$(date +%s)
mkdir -p "$ETC" "$PIDS" "$LOGS" "$SD/marks" "$SD/lock" "$LAB_STATE/backups"
mark() { touch "$SD/marks/$1"; }
marked() { [ -f "$SD/marks/$1" ]; }

# ------------------------------------------------------------ mount namespace
# os-brick (used by cinder-backup to read and write RBD volumes) only looks for
# the Ceph key in /etc/ceph/ceph.client.admin.keyring. Bind-mount the site's
# own directory there, in a private mount namespace, so the daemons started
# below see their cluster's key and the system's /etc/ceph stays untouched.
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink /proc/1/ns/mnt)" ]; then
  die "site-up.sh must run in a private mount namespace; start sites with scripts/site-start.sh"
fi

# ------------------------------------------------------------ infrastructure
if [ "$MODE" = netns ]; then
  bash "$LAB_HOME/scripts/infra-up.sh" "$INFRA"
fi
[ -f "$INFRA/ceph/etc-ceph/ceph.client.admin.keyring" ] || die "no Ceph keyring in $INFRA/ceph; is the infrastructure up?"
[ -d /etc/ceph ] || die "/etc/ceph is missing (ceph-common not installed?)"
mount --bind "$INFRA/ceph/etc-ceph" /etc/ceph
CEPH_CONF=$INFRA/ceph/ceph.conf
MYSQL_SOCK=$INFRA/mysql/mysqld.sock

db_url() { echo "mysql+pymysql://$DB_USER:$DB_PASS@127.0.0.1:3306/site_${SITE}_$1?charset=utf8"; }
create_db() { mariadb --socket="$MYSQL_SOCK" -uroot -e "CREATE DATABASE IF NOT EXISTS \`site_${SITE}_$1\` CHARACTER SET utf8;"; }

# RabbitMQ: one vhost and user per site (both sites share the broker in shared mode).
VHOST=site-$SITE
RQCTL=/usr/lib/rabbitmq/bin/rabbitmqctl
# capture first: with pipefail, `cmd | grep -q` can fail on SIGPIPE
vhosts=$(HOME=$INFRA/rabbitmq RABBITMQ_NODENAME=rabbit@localhost $RQCTL list_vhosts -q 2>/dev/null)
users=$(HOME=$INFRA/rabbitmq RABBITMQ_NODENAME=rabbit@localhost $RQCTL list_users -q 2>/dev/null)
grep -qx "$VHOST" <<<"$vhosts" || HOME=$INFRA/rabbitmq RABBITMQ_NODENAME=rabbit@localhost $RQCTL add_vhost "$VHOST" >/dev/null
grep -q "^${VHOST}[[:space:]]" <<<"$users" || HOME=$INFRA/rabbitmq RABBITMQ_NODENAME=rabbit@localhost $RQCTL add_user "$VHOST" "$SVC_PASS" >/dev/null
HOME=$INFRA/rabbitmq RABBITMQ_NODENAME=rabbit@localhost $RQCTL set_permissions -p "$VHOST" "$VHOST" ".*" ".*" ".*" >/dev/null
RABBIT_URL="rabbit://$VHOST:$SVC_PASS@127.0.0.1:5672/$VHOST"

# Ceph: one RBD pool per site.
POOL=site-$SITE-volumes
pools=$(ceph -c "$CEPH_CONF" osd pool ls)
if ! grep -qx "$POOL" <<<"$pools"; then
  ceph -c "$CEPH_CONF" osd pool create "$POOL" 8 >/dev/null
  rbd -c "$CEPH_CONF" pool init "$POOL"
fi

# ------------------------------------------------------------ config helpers
common_default() {
  cat <<EOF
[DEFAULT]
debug = $DEBUG
transport_url = $RABBIT_URL
EOF
}
# heartbeat_timeout_threshold=0: no AMQP heartbeats; they cost idle CPU and on
# 2 busy cores they time out and force reconnects.
oslo_common() {
  cat <<EOF
[oslo_concurrency]
lock_path = $SD/lock
[oslo_messaging_notifications]
driver = noop
[oslo_messaging_rabbit]
heartbeat_timeout_threshold = 0
EOF
}
authtoken() {
  cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://$IP:5000
auth_url = http://$IP:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SVC_PASS
region_name = $REGION
service_token_roles_required = true
EOF
}
# ksa SECTION USER: password auth for service-to-service calls
ksa() {
  cat <<EOF
[$1]
auth_url = http://$IP:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SVC_PASS
region_name = $REGION
EOF
}
uwsgi_ini() { # uwsgi_ini PORT WSGI_FILE ENV
  cat <<EOF
[uwsgi]
plugins = python3
http-socket = $IP:$1
wsgi-file = $2
env = $3
master = true
processes = 1
threads = 4
enable-threads = true
lazy-apps = true
die-on-term = true
buffer-size = 65535
add-header = Connection: close
EOF
}
DBJOBS=()   # background db syncs; wait for these only (daemons are children too)

# ============================================================ KEYSTONE (uwsgi)
D=$ETC/keystone
mkdir -p "$D" "$SD/keystone/fernet-keys" "$SD/keystone/credential-keys"
cat >"$D/keystone.conf" <<EOF
[DEFAULT]
debug = $DEBUG
[database]
connection = $(db_url keystone)
[token]
provider = fernet
# long-lived tokens: DR tests run for a while and may cut links mid-run
expiration = 14400
[fernet_tokens]
key_repository = $SD/keystone/fernet-keys
[fernet_receipts]
# fernet_setup also creates the receipt keys; the default is /etc/keystone/fernet-keys
key_repository = $SD/keystone/fernet-keys
[credential]
key_repository = $SD/keystone/credential-keys
[cache]
# In-process cache (one uwsgi process, so it cannot go stale across workers):
# without it every token validation rebuilds roles and catalog from the DB,
# about 1 s of CPU per call on this machine.
enabled = true
backend = dogpile.cache.memory
expiration_time = 600
[identity]
# bcrypt's minimum cost: every password login (each CLI call, each service
# token) verifies a hash; the default cost 12 takes about 0.3 s of CPU here.
password_hash_rounds = 4
EOF
# The Debian uwsgi ini files want apparmor and per-service users: use our own.
uwsgi_ini 5000 /usr/bin/keystone-wsgi-public "OS_KEYSTONE_CONFIG_DIR=$D" >"$D/uwsgi.ini"
KM=(keystone-manage --config-file "$D/keystone.conf")
if ! marked keystone-db; then
  create_db keystone
  {
    "${KM[@]}" db_sync
    "${KM[@]}" fernet_setup --keystone-user root --keystone-group root
    "${KM[@]}" credential_setup --keystone-user root --keystone-group root
    "${KM[@]}" bootstrap --bootstrap-password "$ADMIN_PASS" \
      --bootstrap-admin-url "http://$IP:5000/v3/" --bootstrap-internal-url "http://$IP:5000/v3/" \
      --bootstrap-public-url "http://$IP:5000/v3/" --bootstrap-region-id "$REGION"
  } >"$LOGS/keystone-dbsync.log" 2>&1 || { tail -n 20 "$LOGS/keystone-dbsync.log" >&2; die "keystone db sync/bootstrap failed"; }
  chmod 700 "$SD/keystone/fernet-keys" "$SD/keystone/credential-keys"
  mark keystone-db
fi
start_daemon "$PIDS" "$LOGS" keystone uwsgi --ini "$D/uwsgi.ini"
# Keystone is set up before the other services' db syncs start: on 2 cores
# running them all at once only makes every step slower.
wait_http "http://$IP:5000/v3" 90 || { check_daemon "$PIDS" "$LOGS" keystone; die "keystone did not answer on http://$IP:5000/v3"; }
if ! marked keystone-setup; then
  "$PY" "$LAB_HOME/scripts/ks_setup.py" "$IP" "$SVC_PASS" "$ADMIN_PASS" "$DEMO_PASS" "$BACKUP_PASS"
  mark keystone-setup
fi
log "site $SITE: keystone ready after $(($(date +%s) - T0)) s"

# ============================================================ GLANCE (file store)
D=$ETC/glance
mkdir -p "$D" "$SD/glance/images" "$SD/glance/staging" "$SD/glance/tasks"
{
  common_default
  cat <<EOF
bind_host = $IP
bind_port = 9292
workers = 1
enabled_backends = file:file
[database]
connection = $(db_url glance)
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $SD/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $SD/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $SD/glance/tasks
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
EOF
  authtoken glance
  oslo_common
} >"$D/glance-api.conf"
if ! marked glance-db; then
  create_db glance
  glance-manage --config-file "$D/glance-api.conf" db_sync >"$LOGS/glance-dbsync.log" 2>&1 &
  DBJOBS+=("$!:glance")
fi

# ============================================================ PLACEMENT (uwsgi)
D=$ETC/placement
mkdir -p "$D"
{
  cat <<EOF
[DEFAULT]
debug = $DEBUG
[placement_database]
connection = $(db_url placement)
[api]
auth_strategy = keystone
EOF
  authtoken placement
} >"$D/placement.conf"
uwsgi_ini 8778 /usr/bin/placement-api "OS_PLACEMENT_CONFIG_DIR=$D" >"$D/uwsgi.ini"
if ! marked placement-db; then
  create_db placement
  placement-manage --config-file "$D/placement.conf" db sync >"$LOGS/placement-dbsync.log" 2>&1 &
  DBJOBS+=("$!:placement")
fi

# ============================================================ NOVA (fake virt)
D=$ETC/nova
mkdir -p "$D" "$SD/nova/instances"
{
  common_default
  cat <<EOF
my_ip = $IP
host = site-$SITE-compute1
state_path = $SD/nova
instances_path = $SD/nova/instances
# pylib/labfake_virt.py: nova's FakeDriver + snapshots that upload data +
# guests that survive a nova-compute restart
compute_driver = ${NOVA_DRIVER:-labfake_virt.LabFakeDriver}
enabled_apis = osapi_compute
osapi_compute_listen = $IP
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
# fake driver + agent-less neutron: never wait for network-vif-plugged events
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
# fewer periodic network-info refreshes on 2 cores
heal_instance_info_cache_interval = -1
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[api]
auth_strategy = keystone
[api_database]
connection = $(db_url nova_api)
[database]
connection = $(db_url nova)
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 10
[vnc]
enabled = false
[spice]
enabled = false
[glance]
region_name = $REGION
[cinder]
os_region_name = $REGION
catalog_info = volumev3::publicURL
auth_url = http://$IP:5000
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = nova
password = $SVC_PASS
EOF
  ksa service_user nova
  echo "send_service_user_token = true"
  authtoken nova
  ksa placement nova
  ksa neutron nova
  oslo_common
} >"$D/nova.conf"
# nova-compute must not see DB credentials ("No DB access allowed in nova-compute").
awk '/^\[/ {skip = ($0 == "[database]" || $0 == "[api_database]")} !skip' "$D/nova.conf" >"$D/nova-compute.conf"
if ! marked nova-db; then
  create_db nova_api
  create_db nova
  create_db nova_cell0
  (
    NM=(nova-manage --config-file "$D/nova.conf")
    "${NM[@]}" api_db sync
    "${NM[@]}" cell_v2 map_cell0 --database_connection "$(db_url nova_cell0)"
    cells=$("${NM[@]}" cell_v2 list_cells)
    grep -q ' cell1 ' <<<"$cells" || "${NM[@]}" cell_v2 create_cell --name cell1 --verbose
    "${NM[@]}" db sync
  ) >"$LOGS/nova-dbsync.log" 2>&1 &
  DBJOBS+=("$!:nova")
fi

# ============================================================ NEUTRON (ML2, no agents)
D=$ETC/neutron
mkdir -p "$D"
{
  common_default
  cat <<EOF
bind_host = $IP
bind_port = 9696
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
state_path = $SD/neutron
api_paste_config = /etc/neutron/api-paste.ini
dhcp_agent_notification = false
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
allow_overlapping_ips = true
[database]
connection = $(db_url neutron)
EOF
  authtoken neutron
  ksa nova neutron
  oslo_common
} >"$D/neutron.conf"
cat >"$D/ml2_conf.ini" <<EOF
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan
# pylib/labfake_mech.py binds every port without an L2 agent
mechanism_drivers = labfake
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:199
[ml2_type_vxlan]
vni_ranges = 1:10000
EOF
if ! marked neutron-db; then
  create_db neutron
  neutron-db-manage --config-file "$D/neutron.conf" --config-file "$D/ml2_conf.ini" upgrade heads \
    >"$LOGS/neutron-dbsync.log" 2>&1 &
  DBJOBS+=("$!:neutron")
fi

# ============================================================ CINDER (Ceph RBD + backup)
D=$ETC/cinder
mkdir -p "$D" "$SD/cinder"
if [ "$BACKUP_STORE" = swift ]; then
  # Both sites back up into site B's Swift, as user 'backup' of site B's
  # Keystone. From site A that crosses the inter-site link, so cutting B's
  # link makes A's backups fail.
  BACKUP_CONF="backup_driver = cinder.backup.drivers.swift.SwiftBackupDriver
backup_swift_auth = single_user
backup_swift_auth_version = 3
backup_swift_auth_url = http://$(site_ip b):5000/v3
backup_swift_user = $BACKUP_USER
backup_swift_key = $BACKUP_PASS
backup_swift_project = backup
backup_swift_user_domain = Default
backup_swift_project_domain = Default
backup_swift_container = volumebackups
backup_swift_retry_attempts = 2
backup_swift_retry_backoff = 1"
else
  # one directory shared by both sites: the "replicated" backup store, so
  # export_record at one site and import_record at the other just work
  BACKUP_CONF="backup_driver = cinder.backup.drivers.posix.PosixBackupDriver
backup_posix_path = $LAB_STATE/backups"
fi
{
  common_default
  cat <<EOF
my_ip = $IP
host = site-$SITE
auth_strategy = keystone
osapi_volume_listen = $IP
osapi_volume_listen_port = 8776
osapi_volume_workers = 1
api_paste_config = /etc/cinder/api-paste.ini
state_path = $SD/cinder
enabled_backends = ceph
$BACKUP_CONF
backup_workers = 1
[ceph]
volume_driver = cinder.volume.drivers.rbd.RBDDriver
volume_backend_name = ceph
rbd_pool = $POOL
rbd_ceph_conf = $CEPH_CONF
rbd_user = admin
rbd_flatten_volume_from_snapshot = false
rbd_max_clone_depth = 5
# thin RBD images on a 10 GiB sparse OSD: allow far more logical space
max_over_subscription_ratio = 200
[database]
connection = $(db_url cinder)
EOF
  ksa service_user cinder
  echo "send_service_user_token = true"
  authtoken cinder
  ksa nova cinder
  oslo_common
} >"$D/cinder.conf"
if ! marked cinder-db; then
  create_db cinder
  cinder-manage --config-file "$D/cinder.conf" db sync >"$LOGS/cinder-dbsync.log" 2>&1 &
  DBJOBS+=("$!:cinder")
fi

# ============================================================ HEAT
D=$ETC/heat
mkdir -p "$D"
{
  common_default
  cat <<EOF
host = site-$SITE
heat_metadata_server_url = http://$IP:8000
heat_waitcondition_server_url = http://$IP:8000/v1/waitcondition
stack_domain_admin = heat_domain_admin
stack_domain_admin_password = $SVC_PASS
stack_user_domain_name = heat
num_engine_workers = 1
region_name_for_services = $REGION
[heat_api]
bind_host = $IP
bind_port = 8004
workers = 1
[paste_deploy]
api_paste_config = /etc/heat/api-paste.ini
[database]
connection = $(db_url heat)
[clients_keystone]
auth_uri = http://$IP:5000
[trustee]
auth_type = password
auth_url = http://$IP:5000
username = heat
password = $SVC_PASS
user_domain_name = Default
[ec2authtoken]
auth_uri = http://$IP:5000/v3
EOF
  authtoken heat
  oslo_common
} >"$D/heat.conf"
if ! marked heat-db; then
  create_db heat
  heat-manage --config-file "$D/heat.conf" db_sync >"$LOGS/heat-dbsync.log" 2>&1 &
  DBJOBS+=("$!:heat")
fi

# ============================================================ SWIFT (1 replica)
# The packaged /etc/swift/swift.conf (hash prefix/suffix, policy 0) is read as
# is; rings and server configs are the site's own, data in swift/node/d1.
D=$ETC/swift
mkdir -p "$D" "$SD/swift/node/d1"
SWIFT_RINGS="object:6200 container:6201 account:6202"
if ! marked swift-rings; then
  for r in $SWIFT_RINGS; do
    n=${r%%:*} p=${r##*:}
    rm -f "$D/$n.builder" "$D/$n.ring.gz"
    swift-ring-builder "$D/$n.builder" create 8 1 1 >/dev/null
    swift-ring-builder "$D/$n.builder" add "r1z1-$IP:$p/d1" 100 >/dev/null
    # exit code 1 is a warning ("balance"), real failures show in the missing ring
    swift-ring-builder "$D/$n.builder" rebalance >/dev/null || true
    [ -f "$D/$n.ring.gz" ] || die "swift ring $n was not built"
  done
  mark swift-rings
fi
for r in $SWIFT_RINGS; do
  n=${r%%:*} p=${r##*:}
  cat >"$D/$n-server.conf" <<EOF
[DEFAULT]
bind_ip = $IP
bind_port = $p
workers = 0
devices = $SD/swift/node
mount_check = false
swift_dir = $D
log_name = site-$SITE-swift-$n
[pipeline:main]
pipeline = $n-server
[app:$n-server]
use = egg:swift#$n
EOF
done
{
  cat <<EOF
[DEFAULT]
bind_ip = $IP
bind_port = 8080
workers = 0
swift_dir = $D
log_name = site-$SITE-swift-proxy
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging listing_formats bulk authtoken keystoneauth copy slo dlo versioned_writes symlink proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
delay_auth_decision = true
EOF
  authtoken swift | tail -n +2
  cat <<EOF
[filter:keystoneauth]
use = egg:swift#keystoneauth
operator_roles = admin, member
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
[filter:symlink]
use = egg:swift#symlink
EOF
} >"$D/proxy-server.conf"

# ------------------------------------------------------------ db syncs done?
for j in "${DBJOBS[@]}"; do
  if ! wait "${j%%:*}"; then
    tail -n 20 "$LOGS/${j##*:}-dbsync.log" >&2
    die "${j##*:} db sync failed (log: $LOGS/${j##*:}-dbsync.log)"
  fi
  mark "${j##*:}-db"
done
[ ${#DBJOBS[@]} -eq 0 ] || log "site $SITE: db syncs done after $(($(date +%s) - T0)) s"

# ------------------------------------------------------------ daemons
start_daemon "$PIDS" "$LOGS" glance-api glance-api --config-file "$ETC/glance/glance-api.conf"
start_daemon "$PIDS" "$LOGS" placement uwsgi --ini "$ETC/placement/uwsgi.ini"
# labfake_mech's entry point comes from pylib/labfake_mech-0.1.dist-info
PYTHONPATH=$LAB_HOME/pylib start_daemon "$PIDS" "$LOGS" neutron-server neutron-server \
  --config-file "$ETC/neutron/neutron.conf" --config-file "$ETC/neutron/ml2_conf.ini"
for s in api conductor scheduler; do
  start_daemon "$PIDS" "$LOGS" "nova-$s" "nova-$s" --config-file "$ETC/nova/nova.conf"
done
# nova (Zed) loads compute drivers only from nova.virt: this launcher registers
# labfake_virt there and runs the stock nova-compute.
start_daemon "$PIDS" "$LOGS" nova-compute "$PY" "$LAB_HOME/pylib/nova_compute_lab.py" \
  --config-file "$ETC/nova/nova-compute.conf"
for s in api scheduler volume backup; do
  start_daemon "$PIDS" "$LOGS" "cinder-$s" "cinder-$s" --config-file "$ETC/cinder/cinder.conf"
done
for s in api engine; do
  start_daemon "$PIDS" "$LOGS" "heat-$s" "heat-$s" --config-file "$ETC/heat/heat.conf"
done
# -v: log to stdout as well (there is no syslog here)
for n in account container object proxy; do
  start_daemon "$PIDS" "$LOGS" "swift-$n" "swift-$n-server" "$ETC/swift/$n-server.conf" -v
done

# ------------------------------------------------------------ wait for the APIs
all_alive() {
  local f rc=0
  for f in "$PIDS"/*.pid; do
    check_daemon "$PIDS" "$LOGS" "$(basename "$f" .pid)" || rc=1
  done
  return $rc
}
for u in 9292/ 8778/ 9696/ 8774/ 8776/ 8004/ 8080/healthcheck; do
  if ! wait_http "http://$IP:$u" 240; then
    all_alive || die "site $SITE: a daemon died on start (log tail above)"
    die "site $SITE: http://$IP:$u does not answer after 240 s; logs in $LOGS"
  fi
done
all_alive || die "site $SITE: a daemon died on start (log tail above)"
log "site $SITE: all APIs answer after $(($(date +%s) - T0)) s"
# idempotent, and on a warm start it waits for compute and volume services
"$PY" "$LAB_HOME/scripts/site_setup.py" "$IP" "$ADMIN_PASS" "$ETC/nova/nova.conf"
log "site $SITE up on $IP in $(($(date +%s) - T0)) s (mode $MODE, backup store $BACKUP_STORE)"
