#!/bin/sh
# eventlens batch job wrapper (the submit description's executable).
#   job.sh PYTHON JOBDIR
# HTCondor runs the executable as "condor_exec.exe", which would confuse a venv
# python about its prefix, so the interpreter is started from this shell script.
# Everything else (reading JOBDIR/job.json, running the chunks, their results as
# JSON, done.json or error.json) happens in eventlens.condor.job.
set -eu
if [ "$#" -ne 2 ]; then
  echo "usage: $0 PYTHON JOBDIR" >&2
  exit 2
fi
python=$1
jobdir=$2
cd "$jobdir"
echo "eventlens job $(basename "$jobdir") on $(hostname) as uid $(id -u), python $python" >&2
exec "$python" -m eventlens.condor.job "$jobdir"
