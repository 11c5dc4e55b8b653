#!/usr/bin/env bash
# `podman run --rm ARGS...` as this kind of host needs it, for the training image:
#   training/image/run.sh [PODMAN RUN OPTIONS] IMAGE [FILE_OR_URI...] [--run-id ID ...]
# - runc: crun refuses hosts whose cgroups are mixed v1/v2 ("cgroups in hybrid mode").
# - explicit limits: podman's defaults ask for more open files and processes than such a host
#   lets a container have ("error setting rlimit ... operation not permitted"). Open files:
#   the caller's hard limit; processes: 32768, the most a container got there (32769 failed).
set -euo pipefail
files=$(ulimit -Hn)
exec podman run --rm --runtime runc \
  --ulimit "nofile=$files:$files" --ulimit nproc=32768:32768 "$@"
