#!/bin/bash
# mariadb.sh: a throwaway MariaDB server for the catalog tests, wholly inside one directory.
#
#   bash spec/support/mariadb.sh start DIR PORT   # datadir DIR/data, socket DIR/mariadbd.sock,
#                                                 # 127.0.0.1:PORT, database ferry_test, user ferry/ferry
#   bash spec/support/mariadb.sh stop DIR         # stops the server whose pid is in DIR/pid
#
# Then: FERRY_TEST_MYSQL_URL=mysql://ferry:ferry@127.0.0.1:PORT/ferry_test npm test
#
# It never reads /etc/mysql (every call passes --no-defaults first), never touches
# /var/lib/mysql or another instance, and runs mariadbd as root (--user=root) so the
# datadir may live anywhere. Needs mariadb-server (Debian: apt-get install -y mariadb-server).
set -euo pipefail

MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}
READY_TIMEOUT=${READY_TIMEOUT:-60}

usage() {
  echo "usage: $0 start DIR PORT | stop DIR" >&2
  exit 2
}

die() {
  echo "mariadb.sh: $*" >&2
  exit 1
}

# pid_alive PID: true when PID is a running mariadbd.
pid_alive() {
  local pid=$1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q mariadbd "/proc/$pid/cmdline" 2>/dev/null
}

client() {
  local dir=$1
  shift
  mariadb --no-defaults --protocol=socket --socket="$dir/mariadbd.sock" -uroot "$@"
}

start() {
  local dir=$1 port=$2
  [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number, got '$port'"
  [ -x "$MARIADBD" ] || die "$MARIADBD not found (fix: apt-get install -y mariadb-server)"
  command -v mariadb-install-db >/dev/null || die "mariadb-install-db not found (fix: apt-get install -y mariadb-server)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  case $dir in /var/lib/mysql | /var/lib/mysql/*) die "refusing to use $dir: it belongs to the system's MariaDB" ;; esac

  if [ -f "$dir/pid" ] && pid_alive "$(cat "$dir/pid")"; then
    echo "mariadb.sh: already running (pid $(cat "$dir/pid")) in $dir"
    return 0
  fi
  if ss -ltn "sport = :$port" 2>/dev/null | grep -q LISTEN; then
    die "port $port is already in use (fix: choose another PORT)"
  fi

  if [ ! -d "$dir/data/mysql" ]; then
    echo "mariadb.sh: initialising $dir/data"
    mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
      --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
      >"$dir/install.log" 2>&1 || die "mariadb-install-db failed (see $dir/install.log)"
  fi

  echo "mariadb.sh: starting mariadbd on 127.0.0.1:$port"
  # setsid: the server outlives this script and the caller's process group.
  setsid "$MARIADBD" --no-defaults --user=root \
    --datadir="$dir/data" --socket="$dir/mariadbd.sock" --pid-file="$dir/mariadbd.pid" \
    --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
    --log-error="$dir/error.log" --tmpdir="$dir" \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_bin \
    --innodb-buffer-pool-size=64M --innodb-log-file-size=32M --performance-schema=OFF \
    --max-connections=100 --skip-log-bin \
    </dev/null >>"$dir/mariadbd.out" 2>&1 &
  local launched=$!

  local waited=0
  until client "$dir" -e 'SELECT 1' >/dev/null 2>&1; do
    if ! kill -0 "$launched" 2>/dev/null; then
      tail -n 20 "$dir/error.log" >&2 || true
      die "mariadbd exited during start-up (see $dir/error.log)"
    fi
    if [ "$waited" -ge "$((READY_TIMEOUT * 2))" ]; then
      kill "$launched" 2>/dev/null || true
      die "mariadbd not ready after ${READY_TIMEOUT}s (see $dir/error.log)"
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  cat "$dir/mariadbd.pid" >"$dir/pid"

  client "$dir" <<'SQL'
CREATE DATABASE IF NOT EXISTS ferry_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER IF NOT EXISTS 'ferry'@'%' IDENTIFIED BY 'ferry';
CREATE USER IF NOT EXISTS 'ferry'@'localhost' IDENTIFIED BY 'ferry';
GRANT ALL PRIVILEGES ON ferry_test.* TO 'ferry'@'%';
GRANT ALL PRIVILEGES ON ferry_test.* TO 'ferry'@'localhost';
FLUSH PRIVILEGES;
SQL
  echo "mariadb.sh: ready (pid $(cat "$dir/pid")): mysql://ferry:ferry@127.0.0.1:$port/ferry_test"
}

stop() {
  local dir=$1
  if [ ! -f "$dir/pid" ]; then
    echo "mariadb.sh: no $dir/pid: nothing to stop"
    return 0
  fi
  local pid
  pid=$(cat "$dir/pid")
  if ! pid_alive "$pid"; then
    echo "mariadb.sh: pid $pid is not running; removing $dir/pid"
    rm -f "$dir/pid"
    return 0
  fi
  kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$waited" -ge "$((READY_TIMEOUT * 2))" ]; then
      echo "mariadb.sh: pid $pid ignored SIGTERM for ${READY_TIMEOUT}s; sending SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  rm -f "$dir/pid"
  echo "mariadb.sh: stopped (pid $pid)"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
  start) [ $# -eq 2 ] || usage; start "$1" "$2" ;;
  stop) [ $# -eq 1 ] || usage; stop "$1" ;;
  *) usage ;;
esac
