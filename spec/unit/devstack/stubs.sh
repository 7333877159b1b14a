#!/bin/bash
# stubs.sh: run Ferry's DevStack plugin against stubbed DevStack functions.
#
#   bash spec/unit/devstack/stubs.sh WORKDIR 'stack install' 'stack post-config' ...
#
# Like stack.sh, it sources devstack/settings once and then devstack/plugin.sh
# once per phase, all in one shell (unstack.sh and clean.sh are separate runs:
# pass 'unstack' or 'clean' to a fresh invocation). The DevStack functions the
# plugin calls are shell functions here, and node, npm, curl, gpg, sudo, dpkg,
# dnf and python are scripts in WORKDIR/bin first on PATH. Every call is
# appended to WORKDIR/calls.log as one line: the name, then each argument after
# a tab; a line starting with @ adds context to the call before it (@cwd DIR,
# @env NAME=VALUE). Every system path the plugin writes is under WORKDIR.
#
# Knobs (environment):
#   FAKE_OS=deb|rpm            what is_ubuntu / is_fedora answer (deb)
#   FAKE_NODE_VERSION=v20.20.2 what `node --version` prints
#   FAKE_KEY_FPRS=FPR...       primary keys in the downloaded key file (default:
#                              the pinned NODESOURCE_KEY_FINGERPRINT)
#   FAKE_KEY_FILE=FILE         serve this real key file and run the real gpg
#   FAKE_CONFIG_SAMPLE=FILE    what `ferry config sample` prints (a stand-in)
#   FAKE_DISABLED=ferry        services is_service_enabled denies
#   FAKE_DATABASE_TYPE=mysql, FAKE_BASE_SQL_CONN=mysql+pymysql://root:db-secret@10.0.0.5
#                              DevStack's database
#   FAKE_CONFIG_CHECK_RC, FAKE_MIGRATE_RC, FAKE_HEALTHZ_RC, FAKE_SITES_CHECK_RC,
#   FAKE_NPM_CI_RC, FAKE_DNF_STREAM_RC
#                              exit codes of `ferry config check`, the migration,
#                              wait_for_service, `ferry sites check`, `npm ci`
#                              and `dnf module info` (0)
# Any FERRY_* or NODE* setting passes through to devstack/settings.
#
# shellcheck disable=SC2016,SC2034
# SC2016: the stubs' bodies are single-quoted on purpose (they expand when run).
# SC2034: DevStack's globals below are read by the sourced plugin.
set -o errexit -o nounset -o pipefail

W=${1:?usage: stubs.sh WORKDIR PHASE...}
shift
W=$(cd "$W" && pwd)
PLUGIN_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../devstack" && pwd)
CALLS=$W/calls.log
: >"$CALLS"
export W CALLS

# record NAME ARG...: one line of calls.log
record() {
  local a
  {
    printf '%s' "$1"
    shift
    for a in "$@"; do printf '\t%s' "$a"; done
    printf '\n'
  } >>"$CALLS"
}

# ---------------------------------------------------------------- PATH stubs
mkdir -p "$W/bin"
# Each stub starts with the same record function (the stubs are separate
# processes and cannot see this shell's functions).
stub() {
  local name=$1 body=$2
  {
    echo '#!/bin/bash'
    echo 'set -o errexit -o nounset -o pipefail'
    printf '%s\n' 'record() { local a; { printf "%s" "$1"; shift; for a in "$@"; do printf "\t%s" "$a"; done; printf "\n"; } >>"$CALLS"; }'
    echo "$body"
  } >"$W/bin/$name"
  chmod +x "$W/bin/$name"
}

stub node '
record node "$@"
record @env "OS_CLIENT_CONFIG_FILE=${OS_CLIENT_CONFIG_FILE:-}"
if [ "${1:-}" = --version ]; then echo "${FAKE_NODE_VERSION:-v20.20.2}"; exit 0; fi
case "${1:-}" in */bin/ferry.js) shift ;; *) echo "node stub: unexpected $*" >&2; exit 2 ;; esac
case "$*" in
  "config sample")
    # the daemon'"'"'s sample when the test gives it, else a short stand-in
    if [ -n "${FAKE_CONFIG_SAMPLE:-}" ]; then cat "$FAKE_CONFIG_SAMPLE"; exit 0; fi
    printf "# ferry.conf sample\n[DEFAULT]\n#state_path = /var/lib/ferry\n\n[database]\n#connection = sqlite://\$state_path/catalog.db\n" ;;
  "config check --config "*) exit "${FAKE_CONFIG_CHECK_RC:-0}" ;;
  *--migrate-only*) exit "${FAKE_MIGRATE_RC:-0}" ;;
  "sites check"*) exit "${FAKE_SITES_CHECK_RC:-0}" ;;
  *) echo "node stub: unexpected ferry $*" >&2; exit 2 ;;
esac'

stub npm '
record npm "$@"
record @cwd "$PWD"
case "$*" in
  ci*) exit "${FAKE_NPM_CI_RC:-0}" ;;
  "run build") mkdir -p dist/lib/cli && : >dist/lib/cli/main.js ;;
esac'

stub curl '
record curl "$@"
out=
while [ $# -gt 0 ]; do
  case $1 in -o) out=$2; shift ;; esac
  shift
done
cp "$W/key-download" "$out"'

# gpg: with FAKE_KEY_FILE the real one; otherwise --show-keys prints colon
# records for each "fingerprint X" line of the fake key file (a primary key
# with a subkey, as gpg does) and --dearmor copies it.
stub gpg '
record gpg "$@"
if [ -n "${FAKE_KEY_FILE:-}" ]; then exec /usr/bin/gpg "$@"; fi
last=${*: -1}
case " $* " in
  *" --show-keys "*)
    while read -r _ fpr; do
      echo "pub:-:2048:1:${fpr: -16}:1464022864:::-:::scESC::::::23::0:"
      echo "fpr:::::::::$fpr:"
      echo "uid:-::::1464022864::0::Test <test@example.org>::::::::::0:"
      echo "sub:-:2048:1:0000000000000001:1464022864::::::e::::::23:"
      echo "fpr:::::::::0000000000000000000000000000000000000001:"
    done <"$last" ;;
  *" --dearmor "*)
    out=
    while [ $# -gt 0 ]; do case $1 in -o) out=$2; shift ;; esac; shift; done
    { echo "dearmored"; cat "$last"; } >"$out" ;;
esac'

stub sudo '
record sudo "$@"
exec "$@"'

stub dpkg '
record dpkg "$@"
echo amd64'

stub dnf '
record dnf "$@"
case "$*" in *"module info"*) exit "${FAKE_DNF_STREAM_RC:-0}" ;; esac'

stub python3 'record python "$@"'

# ---------------------------------------------------------------- DevStack's world
export PATH="$W/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export HOME=$W/home
mkdir -p "$HOME" "$W/etc/openstack" "$W/etc/apt/sources.list.d" "$W/etc/apt/preferences.d" \
  "$W/usr/local/bin" "$W/devstack/tools"

DEST=$W/opt/stack
DATA_DIR=$DEST/data
TOP_DIR=$W/devstack
STACK_USER=$(id -un)
SERVICE_HOST=10.0.0.5
SERVICE_LISTEN_ADDRESS=0.0.0.0
SERVICE_PROTOCOL=http
SERVICE_TIMEOUT=60
KEYSTONE_SERVICE_URI=http://10.0.0.5/identity
SERVICE_PASSWORD=svc-secret
ADMIN_PASSWORD=admin-secret
SERVICE_DOMAIN_NAME=Default
SERVICE_PROJECT_NAME=service
REGION_NAME=RegionOne
ENABLE_DEBUG_LOG_LEVEL=True
DATABASE_TYPE=${FAKE_DATABASE_TYPE:-mysql}
BASE_SQL_CONN=${FAKE_BASE_SQL_CONN:-mysql+pymysql://root:db-secret@10.0.0.5}
MYSQL_GATHER_PERFORMANCE=${MYSQL_GATHER_PERFORMANCE:-True}
OPENSTACKCLIENT_CONF_DIR=$W/etc/openstack
PYTHON=$W/bin/python3
ENABLED_SERVICES=key,mysql,n-api,c-api,c-bak,h-api,h-eng,s-proxy
# stack.sh has run apt-get update by the time plugins install.
REPOS_UPDATED=True
declare -A -g GITREPO GITDIR GITBRANCH
GITREPO[ferry]=https://git.example.org/ferry.git
GITDIR[ferry]=$DEST/ferry
GITBRANCH[ferry]=main

# Every path outside WORKDIR that the plugin would write, moved into it.
FERRY_CONF_DIR=${FERRY_CONF_DIR:-$W/etc/ferry}
FERRY_BIN_LINK=${FERRY_BIN_LINK:-$W/usr/local/bin/ferry}
NODESOURCE_KEYRING=${NODESOURCE_KEYRING:-$W/etc/apt/keyrings/nodesource.gpg}
NODESOURCE_SOURCES=${NODESOURCE_SOURCES:-$W/etc/apt/sources.list.d/nodesource.sources}
NODESOURCE_PREFERENCES=${NODESOURCE_PREFERENCES:-$W/etc/apt/preferences.d/nodesource}

# the checkout enable_plugin made, and DevStack's clouds.yaml
mkdir -p "$DEST/ferry/bin"
[ -f "$DEST/ferry/package.json" ] || echo '{"name": "ferry"}' >"$DEST/ferry/package.json"
: >"$DEST/ferry/bin/ferry.js"
cat >"$OPENSTACKCLIENT_CONF_DIR/clouds.yaml" <<'EOF'
clouds:
  devstack-admin:
    auth:
      auth_url: http://10.0.0.5/identity
      username: admin
      password: admin-secret
      project_name: admin
      user_domain_id: default
      project_domain_id: default
    region_name: RegionOne
EOF

# ---------------------------------------------------------------- DevStack function stubs
# Faithful where the plugin depends on the behaviour (trueorfalse, iniset,
# database_connection_url, install_package's apt-get update), recorders
# otherwise.
die() {
  record die "$@"
  echo "ERROR: line $1: ${*:2}" >&2
  exit 1
}
warn() {
  record warn "$@"
  echo "[WARNING] line $1: ${*:2}"
}
echo_summary() { record echo_summary "$@"; }
define_plugin() { record define_plugin "$@"; }
enable_service() {
  record enable_service "$@"
  ENABLED_SERVICES+=",$1"
}
is_service_enabled() {
  local s
  for s in "$@"; do
    case ",${FAKE_DISABLED:-}," in *",$s,"*) continue ;; esac
    # DevStack's is_keystone_enabled: the service is listed as "key"
    [ "$s" != keystone ] || s=key
    case ",$ENABLED_SERVICES," in *",$s,"*) return 0 ;; esac
  done
  return 1
}
trueorfalse() {
  local v=${!2:-}
  case $v in
    1 | [yY]es | YES | [tT]rue | TRUE) echo True ;;
    0 | [nN]o | NO | [fF]alse | FALSE) echo False ;;
    *) echo "$1" ;;
  esac
}
is_ubuntu() { [ "${FAKE_OS:-deb}" = deb ]; }
is_fedora() { [ "${FAKE_OS:-deb}" = rpm ]; }
install_package() {
  if is_ubuntu && [ "$REPOS_UPDATED" != True ]; then
    record apt_get_update
    REPOS_UPDATED=True
  fi
  record install_package "$@"
}
git_clone() { record git_clone "$@"; }
database_connection_url() {
  record database_connection_url "$@"
  local plugin=
  if [ "$MYSQL_GATHER_PERFORMANCE" = True ]; then plugin='&plugin=dbcounter'; fi
  echo "$BASE_SQL_CONN/$1?charset=utf8$plugin"
}
recreate_database() { record recreate_database "$@"; }
create_service_user() { record create_service_user "$@"; }
get_or_create_service() {
  record get_or_create_service "$@"
  echo service-id
}
get_or_create_endpoint() {
  record get_or_create_endpoint "$@"
  echo endpoint-id
}
run_process() { record run_process "$@"; }
stop_process() { record stop_process "$@"; }
wait_for_service() {
  record wait_for_service "$@"
  return "${FAKE_HEALTHZ_RC:-0}"
}
# iniset [-sudo] FILE SECTION OPTION VALUE: DevStack's inifile semantics: a
# missing section is appended, a missing option goes right after its section's
# header, an existing one is replaced in place. Plain bash, and the file is
# rewritten in place so its mode stays (DevStack uses sed -i).
iniset() {
  record iniset "$@"
  [ "$1" != -sudo ] || shift
  local file=$1 section=$2 option=$3 value=$4 line insec=0 has=0
  local -a lines=() out=()
  if [ -f "$file" ]; then mapfile -t lines <"$file"; fi
  for line in "${lines[@]}"; do
    if [[ $line =~ ^\[.*\] ]]; then
      [ "$line" = "[$section]" ] && insec=1 || insec=0
    elif ((insec)) && [[ $line =~ ^${option}[[:space:]]*= ]]; then
      has=1
    fi
  done
  if ! printf '%s\n' "${lines[@]}" | grep -qxF "[$section]"; then
    lines+=("" "[$section]")
  fi
  insec=0
  for line in "${lines[@]}"; do
    if [[ $line =~ ^\[.*\] ]]; then
      [ "$line" = "[$section]" ] && insec=1 || insec=0
      out+=("$line")
      if ((insec && !has)); then out+=("$option = $value"); fi
    elif ((insec && has)) && [[ $line =~ ^${option}[[:space:]]*= ]]; then
      out+=("$option = $value")
    else
      out+=("$line")
    fi
  done
  printf '%s\n' "${out[@]}" >"$file"
}

# ---------------------------------------------------------------- run
# shellcheck source=../../../devstack/settings
source "$PLUGIN_DIR/settings"

# the key file curl downloads
if [ -n "${FAKE_KEY_FILE:-}" ]; then
  cp "$FAKE_KEY_FILE" "$W/key-download"
else
  for f in ${FAKE_KEY_FPRS-$NODESOURCE_KEY_FINGERPRINT}; do echo "fingerprint $f"; done >"$W/key-download"
fi

for step in "$@"; do
  read -r -a words <<<"$step"
  record phase "${words[@]}"
  # shellcheck source=../../../devstack/plugin.sh
  source "$PLUGIN_DIR/plugin.sh" "${words[@]}"
done
record end
