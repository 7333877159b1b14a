# shellcheck shell=bash
# lib/common.sh: constants and helpers shared by every lab script. Source it;
# do not run it.
#
# Layout of the state directory ($LAB_STATE, default /var/lib/ferry-lab):
#   mode                 netns | shared (decided by the first lab-up; a warm start reuses it)
#   clouds.yaml          os-client-config file for lab-a, lab-b, lab-a-demo, lab-b-demo
#   backups/             posix backup store shared by both sites
#   host/{pids,log}      host-side relays and the inter-site link
#   link/                unix sockets of the relays
#   shared/              MariaDB, RabbitMQ and Ceph of both sites (shared mode only)
#   site-X/              everything of site X: generated configs (etc/), data,
#                        logs (log/), pid files (pids/), markers (marks/); in netns
#                        mode also the site's own MariaDB, RabbitMQ and Ceph.
#
# Every daemon is started with setsid, so its pid is also its process group id;
# stop_daemon signals exactly that group. Nothing is ever stopped by name.

# A pyenv shim shadows python3 on the developers' PATH and lacks the OpenStack
# libraries: pin PATH to the system directories, and call /usr/bin/python3 and
# /usr/bin/openstack by full path anyway.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
PY=/usr/bin/python3
OSC=/usr/bin/openstack

LAB_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_STATE=${LAB_STATE:-/var/lib/ferry-lab}
export LAB_HOME LAB_STATE

SITES_ALL="a b"
# API ports every site serves; the relays and the inter-site link carry these.
# keystone glance placement nova neutron cinder heat swift
API_PORTS="5000 9292 8778 8774 9696 8776 8004 8080"

# Fixed test credentials: this is a lab on loopback, not a deployment.
# Exported: every lab script and Python helper shares them.
ADMIN_PASS="admin"
DEMO_PASS=demo
SVC_PASS=lab-secret
DB_USER=ferry
DB_PASS=ferry-db
BACKUP_USER=backup
BACKUP_PASS=backup-secret
REGION=RegionOne
export ADMIN_PASS DEMO_PASS SVC_PASS DB_USER DB_PASS BACKUP_USER BACKUP_PASS REGION

HOST_PIDS=$LAB_STATE/host/pids
HOST_LOG=$LAB_STATE/host/log
LINK_DIR=$LAB_STATE/link
export SITES_ALL API_PORTS HOST_PIDS HOST_LOG LINK_DIR PY OSC

log()  { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*"; }
warn() { printf '[%s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "the lab must run as root (it installs packages, creates network namespaces and binds 127.0.x.1). Try: sudo bash $0 $*"
}

# site_ip SITE
site_ip() {
  case $1 in
    a) echo 127.0.1.1 ;;
    b) echo 127.0.2.1 ;;
    *) die "unknown site '$1' (expected a or b)" ;;
  esac
}
# other_site SITE
other_site() { if [ "$1" = a ]; then echo b; else echo a; fi; }
# netns_name SITE
netns_name() { echo "ferry-$1"; }
site_dir() { echo "$LAB_STATE/site-$1"; }

# lab_mode: the mode the state was created with, else what LAB_MODE asks for.
lab_mode() {
  if [ -f "$LAB_STATE/mode" ]; then cat "$LAB_STATE/mode"; else echo "${LAB_MODE:-netns}"; fi
}

# infra_dir SITE: where the MariaDB/RabbitMQ/Ceph serving SITE keep their data.
infra_dir() {
  if [ "$(lab_mode)" = netns ]; then site_dir "$1"; else echo "$LAB_STATE/shared"; fi
}

# in_site SITE CMD...: run CMD where SITE's services live (its namespace in netns
# mode, the host otherwise).
in_site() {
  local s=$1; shift
  if [ "$(lab_mode)" = netns ]; then ip netns exec "$(netns_name "$s")" "$@"; else "$@"; fi
}

netns_exists() { [ -e "/run/netns/$1" ]; }

# ---------------------------------------------------------------- daemons

# proc_alive PID: the process exists and is not a zombie. Daemons outlive the
# shell that started them, so their parent is PID 1, which may take a while to
# reap them; until then kill -0 still succeeds.
proc_alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ]
}

# pid_alive PIDFILE
pid_alive() {
  local pid
  [ -f "$1" ] || return 1
  pid=$(cat "$1")
  [ -n "$pid" ] && proc_alive "$pid"
}

# start_daemon PIDDIR LOGDIR NAME CMD...: start CMD in its own session, stdout and
# stderr to LOGDIR/NAME.log, pid to PIDDIR/NAME.pid. No-op if already running.
start_daemon() {
  local piddir=$1 logdir=$2 name=$3
  shift 3
  mkdir -p "$piddir" "$logdir"
  if pid_alive "$piddir/$name.pid"; then return 0; fi
  # Run as a background job of a non-interactive shell, setsid does not need to
  # fork, so $! is the daemon itself and also its process group id.
  setsid "$@" >>"$logdir/$name.log" 2>&1 </dev/null &
  echo $! >"$piddir/$name.pid"
}

# check_daemon PIDDIR LOGDIR NAME: fail with the tail of its log if it died.
check_daemon() {
  local piddir=$1 logdir=$2 name=$3
  if ! pid_alive "$piddir/$name.pid"; then
    printf '[%s] ERROR: %s died on start; last 20 lines of %s:\n' "$(date +%H:%M:%S)" \
      "$name" "$logdir/$name.log" >&2
    tail -n 20 "$logdir/$name.log" >&2 || true
    return 1
  fi
}

# stop_daemon PIDFILE: TERM the process group, KILL it after 10 s.
stop_daemon() {
  local f=$1 pid i
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if [ -n "$pid" ] && proc_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      proc_alive "$pid" || break
      sleep 0.1
    done
    if proc_alive "$pid"; then
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$f"
}

# stop_pids DIR [GLOB]: stop every daemon with a pid file in DIR (in parallel).
stop_pids() {
  local dir=$1 glob=${2:-*} f jobs=()
  [ -d "$dir" ] || return 0
  for f in "$dir"/$glob.pid; do
    [ -f "$f" ] || continue
    stop_daemon "$f" &
    jobs+=($!)
  done
  # wait only for our own stop jobs: a bare `wait` would also wait for daemons
  # this shell started.
  for f in "${jobs[@]}"; do wait "$f" || true; done
}

# wait_tcp HOST PORT TIMEOUT: until something accepts on HOST:PORT (in this netns).
wait_tcp() {
  local h=$1 p=$2 t=${3:-60} i
  for ((i = 0; i < t * 5; i++)); do
    if (exec 3<>"/dev/tcp/$h/$p") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  return 1
}

# wait_http URL TIMEOUT: until an HTTP answer (any status) comes back.
wait_http() {
  local u=$1 t=${2:-60} i
  for ((i = 0; i < t * 2; i++)); do
    if curl -s -o /dev/null -m 2 "$u"; then return 0; fi
    sleep 0.5
  done
  return 1
}

# os_admin SITE ARGS...: the openstack CLI as admin of SITE (via the generated
# clouds.yaml when it exists, else plain environment variables).
os_admin() {
  local s=$1 ip
  shift
  ip=$(site_ip "$s")
  env -u OS_CLOUD OS_AUTH_URL="http://$ip:5000/v3" OS_IDENTITY_API_VERSION=3 \
    OS_USERNAME=admin OS_PASSWORD="$ADMIN_PASS" OS_PROJECT_NAME=admin \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
    OS_REGION_NAME="$REGION" OS_INTERFACE=public "$OSC" "$@"
}
