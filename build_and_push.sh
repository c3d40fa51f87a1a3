#!/usr/bin/env bash
# Build the alsreco image and push it to Amazon ECR (or any registry).
#
#   ./build_and_push.sh [image-name] [tag]
#
#   image-name  ECR repository / image name            (default: alsreco)
#   tag         tag pushed besides `latest`             (default: the git revision, e.g. 1a2b3c4,
#                                                        with -dirty when the tree has changes)
#
# Steps: find the AWS account (aws sts get-caller-identity) and region (AWS_REGION, then
# AWS_DEFAULT_REGION, then `aws configure get region`, then us-east-1); create the ECR
# repository if it is missing; log docker in to the registry with
# `aws ecr get-login-password`; build for linux/amd64; tag with the revision and `latest`;
# push both. Prints the pushed image URIs on the last lines.
#
# Environment overrides:
#   AWS_REGION / AWS_PROFILE / AWS_ENDPOINT_URL   as for the aws CLI (the endpoint lets a
#                                                 local AWS emulator answer)
#   REGISTRY=host[:port]   push there instead of <account>.dkr.ecr.<region>.amazonaws.com
#                          (the ECR repository is still created; docker login still uses
#                          the ECR password, which a registry without auth accepts)
#   SKIP_ECR=1             with REGISTRY: no aws calls at all (no account, repository, login)
#   SKIP_LOGIN=1           do not run docker login (already logged in, or no auth)
#   PLATFORM=linux/amd64   docker build --platform (SageMaker runs linux/amd64)
#   DOCKER_BUILD_ARGS      extra words for docker build, e.g. "--pull --no-cache"
set -euo pipefail

die() { printf 'build_and_push: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'build_and_push: %s\n' "$*"; }

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
(( $# <= 2 )) || die "too many arguments; usage: $0 [image-name] [tag]"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
image="${1:-alsreco}"
platform="${PLATFORM:-linux/amd64}"
skip_ecr="${SKIP_ECR:-0}"
skip_login="${SKIP_LOGIN:-0}"

[[ "$image" =~ ^[a-z0-9]+([._/-][a-z0-9]+)*$ ]] \
  || die "image name '$image' is not a valid repository name (lower-case letters, digits, . _ - /)"

if [[ -n "${2:-}" ]]; then
  tag="$2"
elif git -C "$here" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  tag="$(git -C "$here" rev-parse --short HEAD)"
  if [[ -n "$(git -C "$here" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    tag="${tag}-dirty"
  fi
else
  die "no tag given and $here is not a git checkout with a commit; pass a tag: $0 $image TAG"
fi
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "tag '$tag' is not a valid docker tag"

# --- tools -------------------------------------------------------------------------
command -v docker >/dev/null 2>&1 \
  || die "docker is not installed (Debian/Ubuntu: sudo apt-get install docker.io; or see https://docs.docker.com/engine/install/)"
docker info >/dev/null 2>&1 \
  || die "docker is installed but the engine is not reachable (is dockerd running? are you in the 'docker' group?)"

if [[ "$skip_ecr" == "1" ]]; then
  [[ -n "${REGISTRY:-}" ]] || die "SKIP_ECR=1 needs REGISTRY=host[:port] to know where to push"
  registry="$REGISTRY"
  region="-"
else
  command -v aws >/dev/null 2>&1 \
    || die "the aws CLI is not installed (pip install awscli, or see https://aws.amazon.com/cli/)"

  region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
  if [[ -z "$region" ]]; then
    region="$(aws configure get region 2>/dev/null || true)"
  fi
  region="${region:-us-east-1}"

  errfile="$(mktemp)"
  trap 'rm -f "$errfile"' EXIT
  if ! account="$(aws sts get-caller-identity --query Account --output text --region "$region" 2>"$errfile")"; then
    die "aws is not logged in (aws sts get-caller-identity failed): $(tr -s '\n' ' ' <"$errfile")
  Configure credentials: aws configure, aws sso login, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY."
  fi
  [[ "$account" =~ ^[0-9]{12}$ ]] || die "unexpected account id from aws sts get-caller-identity: '$account'"
  registry="${REGISTRY:-${account}.dkr.ecr.${region}.amazonaws.com}"
  say "account $account, region $region, registry $registry"

  # --- the ECR repository ----------------------------------------------------------
  if aws ecr describe-repositories --repository-names "$image" --region "$region" >/dev/null 2>"$errfile"; then
    say "ECR repository $image exists"
  elif grep -q RepositoryNotFoundException "$errfile"; then
    say "creating ECR repository $image"
    aws ecr create-repository --repository-name "$image" --region "$region" \
      --image-scanning-configuration scanOnPush=true >/dev/null \
      || die "could not create ECR repository '$image' in $region (permissions: ecr:CreateRepository)"
  else
    die "aws ecr describe-repositories failed: $(tr -s '\n' ' ' <"$errfile")"
  fi

  # --- docker login ------------------------------------------------------------------
  if [[ "$skip_login" != "1" ]]; then
    say "docker login $registry"
    if ! aws ecr get-login-password --region "$region" \
        | docker login --username AWS --password-stdin "$registry" >/dev/null; then
      die "docker login to $registry failed (ecr:GetAuthorizationToken allowed? registry reachable?)"
    fi
  fi
fi

# --- build, tag, push ------------------------------------------------------------------
local_ref="${image}:${tag}"
remote="${registry}/${image}"
say "building $local_ref for $platform"
# shellcheck disable=SC2086  # DOCKER_BUILD_ARGS is a list of words on purpose
docker build --platform "$platform" ${DOCKER_BUILD_ARGS:-} -t "$local_ref" -t "${image}:latest" "$here"

docker tag "$local_ref" "${remote}:${tag}"
docker tag "$local_ref" "${remote}:latest"
for t in "$tag" latest; do
  say "pushing ${remote}:${t}"
  docker push "${remote}:${t}" || die "docker push ${remote}:${t} failed (logged in to $registry? repository exists?)"
done

say "pushed ${remote}:${tag}"
say "pushed ${remote}:latest"
echo "${remote}:${tag}"
