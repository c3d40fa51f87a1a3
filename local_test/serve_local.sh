#!/usr/bin/env bash
# Run `serve` in the image as a SageMaker endpoint would, on the model in ./test_dir/model.
#
#   ./serve_local.sh [image]          (default image: alsreco:latest)
#
# Listens on 127.0.0.1:${PORT:-8080} (HOST=0.0.0.0 to publish on every interface).
# Stop it with Ctrl-C (or `docker stop alsreco-serve-local`); then call it with ./predict.sh.
set -euo pipefail

image="${1:-alsreco:latest}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
test_dir="$here/test_dir"
port="${PORT:-8080}"
host="${HOST:-127.0.0.1}"

[[ -f "$test_dir/model/metadata.json" ]] \
  || { echo "no trained model in $test_dir/model; run ./train_local.sh first" >&2; exit 1; }

echo "serve_local: http://$host:$port  (GET /ping, POST /invocations; Ctrl-C stops)"
# shellcheck disable=SC2086  # DOCKER_RUN_OPTS is a list of words on purpose
exec docker run --rm --name "${NAME:-alsreco-serve-local}" ${DOCKER_RUN_OPTS:-} \
  -p "$host:$port:8080" -v "$test_dir:/opt/ml" "$image" serve
