#!/bin/bash
# lint.sh: shellcheck every shell script under devstack/ (used by `npm run lint`).
# Installs shellcheck with apt when it is missing. Exits non-zero on any finding.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v shellcheck >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "lint.sh: shellcheck is not installed; run: sudo apt-get install -y shellcheck" >&2
    exit 1
  fi
  echo "lint.sh: installing shellcheck" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 || true; DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >/dev/null; }
fi
# every *.sh, plus extension-less files with a shell shebang
mapfile -t files < <(
  find "$HERE" -type f \( -name '*.sh' -o ! -name '*.*' \) -print0 |
    while IFS= read -r -d '' f; do
      case $f in *.sh) echo "$f" ;; *) head -n 1 "$f" | grep -qE '^#!.*\b(ba)?sh\b' && echo "$f" ;; esac
    done | sort
)
[ ${#files[@]} -gt 0 ] || { echo "lint.sh: no shell scripts found" >&2; exit 1; }
# -x: follow `source` lines so functions and variables from lib/common.sh are known
cd "$HERE"
shellcheck -x -P SCRIPTDIR -S style "${files[@]}"
echo "lint.sh: shellcheck clean (${#files[@]} scripts)"
