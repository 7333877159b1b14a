#!/bin/bash
# infra-up.sh DIR: start MariaDB, RabbitMQ and a one-OSD Ceph cluster whose data,
# logs and pid files live under DIR, listening on 127.0.0.1 of the network
# namespace it runs in. In netns mode each site runs this inside its own
# namespace (DIR = the site's directory); in shared mode it runs once on the
# host (DIR = $LAB_STATE/shared) for both sites.
#
# Idempotent: each piece is created once and only started when its pid file
# does not point at a live process.
#
# Ceph uses cephx with a real client.admin key (CEPH_AUTH=none only to
# reproduce the old behaviour): with auth "none" a client's mon session is
# "authenticated" before the monitor has sent it a monmap, so under load a
# command can go out with a zero fsid and the monitor rejects it with EPERM
# ("problem getting command descriptions from mon"). See docs/lab.md.
set -euo pipefail
# shellcheck source=../lib/common.sh
source "$(dirname "$0")/../lib/common.sh"
DIR=${1:?usage: infra-up.sh DIR}
PIDS=$DIR/pids
LOGS=$DIR/log
mkdir -p "$PIDS" "$LOGS"
T0=$(date +%s)

# ------------------------------------------------------------------ MariaDB
MY=$DIR/mysql
if ! pid_alive "$PIDS/mariadb.pid"; then
  mkdir -p "$MY/data" "$MY/tmp"
  # one config for the bootstrap and the server; --defaults-file keeps /etc/mysql out
  cat >"$MY/my.cnf" <<EOF
[mysqld]
user = root
datadir = $MY/data
# own tmpdir: parallel servers sharing /tmp collide on temporary table names
# (seen as "Unknown table mysql.tmp_user_sys" from two bootstraps at once)
tmpdir = $MY/tmp
socket = $MY/mysqld.sock
pid-file = $MY/mysqld.pid
bind-address = 127.0.0.1
port = 3306
skip-name-resolve
max_connections = 1000
# small footprint, no durability needed: this is a test lab
innodb_buffer_pool_size = 128M
innodb_log_file_size = 48M
innodb_flush_log_at_trx_commit = 0
sync_binlog = 0
performance_schema = OFF
character-set-server = utf8mb3
collation-server = utf8mb3_general_ci
EOF
  if [ ! -d "$MY/data/mysql" ]; then
    mariadb-install-db --defaults-file="$MY/my.cnf" --user=root --datadir="$MY/data" --auth-root-authentication-method=socket \
      --skip-test-db --skip-name-resolve >"$LOGS/mariadb-install.log" 2>&1 ||
      { grep -E "ERROR|Error" "$LOGS/mariadb-install.log" | head -n 10 >&2; die "mariadb-install-db failed"; }
  fi
  start_daemon "$PIDS" "$LOGS" mariadb mariadbd --defaults-file="$MY/my.cnf"
  for _ in $(seq 1 150); do [ -S "$MY/mysqld.sock" ] && break; check_daemon "$PIDS" "$LOGS" mariadb; sleep 0.2; done
  wait_tcp 127.0.0.1 3306 60 || { check_daemon "$PIDS" "$LOGS" mariadb; die "MariaDB does not listen on 127.0.0.1:3306"; }
fi
mariadb --socket="$MY/mysqld.sock" -uroot -e \
  "CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASS';
   GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'127.0.0.1'; FLUSH PRIVILEGES;"

# ------------------------------------------------------------------ RabbitMQ
# Run the server script directly: the /usr/sbin wrapper su's to the rabbitmq
# user, which cannot write our state directory. epmd is started first as one
# of our daemons; otherwise rabbitmq-server would daemonize one outside its
# process group and lab-down could not stop it by pid file.
RQ=$DIR/rabbitmq
mkdir -p "$RQ/mnesia" "$RQ/log"
export HOME=$RQ RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
  RABBITMQ_NODE_PORT=5672 ERL_EPMD_ADDRESS=127.0.0.1 RABBITMQ_DIST_PORT=25672 \
  RABBITMQ_MNESIA_BASE=$RQ/mnesia RABBITMQ_LOG_BASE=$RQ/log \
  RABBITMQ_CONFIG_FILE=$RQ/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$RQ/enabled_plugins \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
if [ ! -f "$RQ/.erlang.cookie" ]; then
  head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RQ/.erlang.cookie"
  chmod 400 "$RQ/.erlang.cookie"
fi
echo "[]." >"$RQ/enabled_plugins"
cat >"$RQ/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:5672
loopback_users = none
vm_memory_high_watermark.relative = 0.2
EOF
if ! pid_alive "$PIDS/epmd.pid"; then
  start_daemon "$PIDS" "$LOGS" epmd epmd -address 127.0.0.1
  wait_tcp 127.0.0.1 4369 20 || { check_daemon "$PIDS" "$LOGS" epmd; die "epmd does not listen on 127.0.0.1:4369"; }
fi
if ! pid_alive "$PIDS/rabbitmq.pid"; then
  start_daemon "$PIDS" "$LOGS" rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server
  wait_tcp 127.0.0.1 5672 120 || { check_daemon "$PIDS" "$LOGS" rabbitmq; die "RabbitMQ does not listen on 127.0.0.1:5672"; }
fi
/usr/lib/rabbitmq/bin/rabbitmqctl await_startup >/dev/null
export HOME=/root

# ------------------------------------------------------------------ Ceph
CD=$DIR/ceph
CONF=$CD/ceph.conf
AUTH=${CEPH_AUTH:-cephx}
mkdir -p "$CD/run" "$CD/etc-ceph"
[ -f "$CD/fsid" ] || uuidgen >"$CD/fsid"
FSID=$(cat "$CD/fsid")
cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon_host = v1:127.0.0.1:6789
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr2 = false
auth_cluster_required = $AUTH
auth_service_required = $AUTH
auth_client_required = $AUTH
keyring = $CD/\$cluster.\$name.keyring
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
run_dir = $CD/run
log_file = $LOGS/ceph-\$name.log
[client]
# Every client process (ceph CLI, each librados handle in cinder, glance ...)
# is client.admin. A shared admin socket path makes each new process unlink
# the socket of a running one; give each its own.
admin_socket = \$run_dir/\$cluster-\$name.\$pid.\$cctid.asok
log_file = $LOGS/ceph-client.log
[mon]
mon_data = $CD/mon-\$id
mon_cluster_log_file = $LOGS/ceph-cluster.log
admin_socket = \$run_dir/\$cluster-\$name.asok
[osd]
osd_data = $CD/osd-\$id
admin_socket = \$run_dir/\$cluster-\$name.asok
osd_objectstore = bluestore
# outside the OSD dir: inside it mkfs fails with "Too many levels of symbolic links"
bluestore_block_path = $CD/osd-\$id.block
# sparse file: restores grow it by the volume size
bluestore_block_size = 10737418240
bluestore_block_create = true
osd_memory_target = 939524096
bluestore_cache_autotune = false
bluestore_cache_size = 134217728
osd_op_num_shards = 1
osd_op_num_threads_per_shard = 2
EOF
if [ ! -f "$CD/ceph.mon.keyring" ]; then
  ceph-authtool --create-keyring "$CD/ceph.mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$CD/ceph.client.admin.keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$CD/ceph.mon.keyring" --import-keyring "$CD/ceph.client.admin.keyring" >/dev/null
fi
# os-brick (cinder-backup's RBD connector) reads /etc/ceph/ceph.client.admin.keyring
# and nothing else since OSSN-0085. site-up.sh bind-mounts this directory over
# /etc/ceph in the private mount namespace of the site's daemons, so the
# system's /etc/ceph is never written.
cp "$CD/ceph.client.admin.keyring" "$CD/etc-ceph/ceph.client.admin.keyring"
cp "$CONF" "$CD/etc-ceph/ceph.conf"
if [ ! -d "$CD/mon-a" ]; then
  monmaptool --create --add a v1:127.0.0.1:6789 --fsid "$FSID" "$CD/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$CD/monmap" --keyring "$CD/ceph.mon.keyring" \
    >"$LOGS/ceph-mon-mkfs.log" 2>&1 || { tail -n 20 "$LOGS/ceph-mon-mkfs.log" >&2; die "ceph-mon --mkfs failed"; }
fi
if ! pid_alive "$PIDS/ceph-mon.pid"; then
  start_daemon "$PIDS" "$LOGS" ceph-mon ceph-mon -c "$CONF" -i a -f
  wait_tcp 127.0.0.1 6789 60 || { check_daemon "$PIDS" "$LOGS" ceph-mon; die "ceph-mon does not listen on 127.0.0.1:6789"; }
fi
C=(ceph -c "$CONF" --connect-timeout 30)
if [ ! -f "$CD/osd-0/whoami" ]; then
  rm -rf "$CD/osd-0" "$CD/osd-0.block"
  mkdir -p "$CD/osd-0"
  [ -f "$CD/osd-uuid" ] || uuidgen >"$CD/osd-uuid"
  OSD_UUID=$(cat "$CD/osd-uuid")
  ceph-authtool --create-keyring "$CD/osd-0/keyring" --gen-key -n osd.0 >/dev/null
  OSD_KEY=$(ceph-authtool -p -n osd.0 "$CD/osd-0/keyring")
  printf '{"cephx_secret": "%s"}\n' "$OSD_KEY" >"$CD/osd-0.json"
  OSD_ID=$("${C[@]}" osd new "$OSD_UUID" -i "$CD/osd-0.json")
  rm -f "$CD/osd-0.json"
  [ "$OSD_ID" = 0 ] || die "unexpected osd id '$OSD_ID' (expected 0)"
  ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" --keyring "$CD/osd-0/keyring" \
    >"$LOGS/ceph-osd-mkfs.log" 2>&1 || { tail -n 20 "$LOGS/ceph-osd-mkfs.log" >&2; die "ceph-osd --mkfs failed"; }
fi
if ! pid_alive "$PIDS/ceph-osd.pid"; then
  start_daemon "$PIDS" "$LOGS" ceph-osd ceph-osd -c "$CONF" -i 0 -f --keyring "$CD/osd-0/keyring"
fi
up=0
for _ in $(seq 1 120); do
  out=$("${C[@]}" osd dump 2>/dev/null || true)
  if grep -q '^osd.0 up' <<<"$out"; then up=1; break; fi
  check_daemon "$PIDS" "$LOGS" ceph-osd || exit 1
  sleep 0.5
done
[ "$up" = 1 ] || die "osd.0 did not come up; see $LOGS/ceph-osd.log"
log "infra in $DIR up in $(($(date +%s) - T0)) s (MariaDB, RabbitMQ, Ceph auth=$AUTH)"
