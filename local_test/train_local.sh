#!/usr/bin/env bash
# Run `train` in the image as SageMaker would, with ./test_dir mounted as /opt/ml.
#
#   ./train_local.sh [image]          (default image: alsreco:latest; build it with `make image`)
#
# Reads  test_dir/input/config/hyperparameters.json and test_dir/input/data/training/*.csv
# Writes test_dir/model/ (the model), test_dir/output/data/recommendations.csv,
#        or test_dir/output/failure and a non-zero exit code on error.
# Extra docker options go in DOCKER_RUN_OPTS, e.g. DOCKER_RUN_OPTS="--network none --memory 4g".
set -euo pipefail

image="${1:-alsreco:latest}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
test_dir="$here/test_dir"

docker image inspect "$image" >/dev/null 2>&1 \
  || { echo "image $image not found; build it first: make image" >&2; exit 1; }

# Start from a clean model/ and output/ like a fresh training job. Files from an earlier
# run belong to root (the container's user): remove them through the container if needed.
rm -rf "$test_dir/model" "$test_dir/output" 2>/dev/null \
  || docker run --rm --entrypoint rm -v "$test_dir:/opt/ml" "$image" -rf /opt/ml/model /opt/ml/output
mkdir -p "$test_dir/model" "$test_dir/output"

# shellcheck disable=SC2086  # DOCKER_RUN_OPTS is a list of words on purpose
docker run --rm ${DOCKER_RUN_OPTS:-} -v "$test_dir:/opt/ml" "$image" train && code=0 || code=$?

if [[ $code -eq 0 ]]; then
  echo "train_local: model in $test_dir/model, recommendations in $test_dir/output/data/"
else
  echo "train_local: train exited $code" >&2
  [[ -f "$test_dir/output/failure" ]] && { echo "--- output/failure:" >&2; cat "$test_dir/output/failure" >&2; echo >&2; }
fi
exit "$code"
