#!/bin/sh
# The image's entrypoint (under tini): `train` or `serve`, as SageMaker passes them;
# anything else prints usage. exec keeps the command tini's direct child so SIGTERM reaches it.
usage() {
  cat >&2 <<USAGE
usage: docker run [docker options] IMAGE train|serve

  train   fit Spark ALS on /opt/ml/input/data/training (CSV) with
          /opt/ml/input/config/hyperparameters.json; writes /opt/ml/model,
          /opt/ml/output/data, or /opt/ml/output/failure on error
  serve   serve /opt/ml/model on port ${SAGEMAKER_BIND_TO_PORT:-8080}
          (GET /ping, POST /invocations)
USAGE
}
# With --network none (loopback only) the container hostname does not resolve and the
# JVM (log4j, Spark) prints UnknownHostException traces: map it to loopback. Only then:
# with a real interface (multi-host training) the name must keep its network address.
host="$(uname -n)"
if [ "$(ls /sys/class/net 2>/dev/null)" = "lo" ] && ! getent hosts "$host" >/dev/null 2>&1; then
  echo "127.0.0.1 $host" >>/etc/hosts 2>/dev/null || true
fi
case "${1:-}" in
  train|serve) cmd="$1"; shift; exec "$cmd" "$@" ;;
  -h|--help|help) usage; exit 0 ;;
  "") echo "alsreco: no command given" >&2; usage; exit 2 ;;
  *) echo "alsreco: unknown command: $1" >&2; usage; exit 2 ;;
esac
