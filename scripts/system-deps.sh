#!/usr/bin/env bash
# Install the system packages a make target needs, on Debian/Ubuntu, before anything else runs.
#
#   scripts/system-deps.sh demo     python3-venv, Java 17, nginx          (make demo, make venv)
#   scripts/system-deps.sh test     + wrk, docker-registry, docker-compose, chromium + driver, nodejs,
#                                   Docker engine (installed and started)  (make test)
#   scripts/system-deps.sh bench    + wrk                                  (make bench*)
#
# As root, or with passwordless sudo, missing packages are installed with apt-get (one
# `apt-get update` first). Otherwise it stops at once with the one command to run. Idempotent:
# nothing is installed when everything is there, so it costs a few milliseconds.
set -euo pipefail
target="${1:-demo}"

have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" ]] || [[ -x "/usr/bin/$1" ]]; }
java_ok() {
  have java && java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'
}
venv_ok() { python3 -c 'import ensurepip, venv' >/dev/null 2>&1; }

need=()
venv_ok || need+=(python3-venv)
java_ok || need+=(openjdk-17-jre-headless)
have nginx || need+=(nginx)
case "$target" in
  demo) ;;
  bench) have wrk || need+=(wrk) ;;
  test)
    have wrk || need+=(wrk)
    have docker-registry || need+=(docker-registry)
    have docker || need+=(docker.io)
    have docker-compose || need+=(docker-compose)
    have chromium || need+=(chromium)
    have chromedriver || need+=(chromium-driver)
    have node || need+=(nodejs)
    ;;
  *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;;
esac

if [[ "$(id -u)" == 0 ]]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  sudo=(none)
fi

if ((${#need[@]})); then
  if [[ "${sudo[0]:-}" == none ]]; then
    echo "error: missing system packages for 'make $target'. Install them once, then re-run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: missing ${need[*]} and no apt-get here; install them with your package manager." >&2
    exit 1
  fi
  echo "system-deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq >/dev/null
  # The JRE's postinst fails on minimal images without this directory.
  "${sudo[@]}" mkdir -p /usr/share/man/man1
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  java_ok || { echo "error: Java 17+ is still not the default java ($(java -version 2>&1 | head -1));" \
                    "select it: sudo update-alternatives --config java" >&2; exit 1; }
fi

# The container tier needs a running engine: start dockerd when it is installed but down.
if [[ "$target" == test ]] && ! docker info >/dev/null 2>&1; then
  if [[ "${sudo[0]:-}" == none ]]; then
    echo "error: the Docker engine is not running (start it: sudo systemctl start docker)" >&2
    exit 1
  fi
  echo "system-deps: starting dockerd (log: /tmp/dockerd.log)"
  "${sudo[@]}" sh -c 'nohup dockerd >/tmp/dockerd.log 2>&1 &'
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "error: dockerd did not start; see /tmp/dockerd.log" >&2; exit 1; }
fi
exit 0
