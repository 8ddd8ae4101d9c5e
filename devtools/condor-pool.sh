#!/usr/bin/env bash
# A personal HTCondor pool on 127.0.0.1 for tests and development:
#   devtools/condor-pool.sh setup|start|stop|status|env [--prefix DIR] [--port N]
# Debian trixie's condor packages unpacked into a prefix and patched with patchelf
# (bookworm has no HTCondor).  Idempotent; `stop` waits until nothing is left.
# `eval "$(devtools/condor-pool.sh env)"` puts its condor_* tools and config in your shell.
# Development tooling (devtools/condor_pool.py), not part of the installed package:
# eventlens itself only finds and uses a running pool (eventlens.condor.pool).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="${EVENTLENS_PYTHON:-$here/.venv/bin/python}"
if [ ! -x "$py" ]; then
  echo "devtools/condor-pool.sh: $py not found: run 'bash .ci/bootstrap' first" >&2
  exit 2
fi
cd "$here"
exec "$py" -m devtools.condor_pool "$@"
