#!/usr/bin/env bash
# The locked installs, generated from pyproject.toml with hashes by uv's universal resolution (one
# lock for every Python from 3.11 to 3.13 and every platform):
#   requirements/runtime.txt   production (./segis setup --production)
#   requirements/dev.txt       development, the tests and CI (the `dev` extra)
# scripts/lock.sh            regenerates them after pyproject.toml changes, keeping every pin it can
# scripts/lock.sh --upgrade  moves every pin to the newest release pyproject.toml allows
# scripts/lock.sh --check    fails when a lock no longer answers pyproject.toml (CI's gate)
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
mode=${1:-}

compile() {  # output file, then extra arguments
  local output=$1
  shift
  "$UV" pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes --quiet \
    --custom-compile-command scripts/lock.sh --output-file "$output" "$@"
}

status=0
for lock in runtime dev; do
  extras=()
  [ "$lock" = dev ] && extras=(--extra dev)
  case "$mode" in
    --check)
      scratch=$(mktemp)
      cp "requirements/$lock.txt" "$scratch"
      compile "$scratch" "${extras[@]}"
      if ! diff -q "requirements/$lock.txt" "$scratch" >/dev/null; then
        echo "lock: requirements/$lock.txt does not match pyproject.toml: run scripts/lock.sh" >&2
        diff "requirements/$lock.txt" "$scratch" | head -20 >&2 || true
        status=1
      fi
      rm -f "$scratch"
      ;;
    --upgrade) compile "requirements/$lock.txt" "${extras[@]}" --upgrade ;;
    "") compile "requirements/$lock.txt" "${extras[@]}" ;;
    *) echo "usage: scripts/lock.sh [--check|--upgrade]" >&2; exit 2 ;;
  esac
done
exit $status
