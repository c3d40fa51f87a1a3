# alsreco: Spark ALS recommendations as a SageMaker "bring your own container".
#
#   docker build -t alsreco:latest .            (or: make image)
#   docker run --rm -v "$PWD/local_test/test_dir:/opt/ml" alsreco:latest train
#   docker run --rm -p 8080:8080 -v "$PWD/local_test/test_dir:/opt/ml" alsreco:latest serve
#
# SageMaker runs `docker run IMAGE train` for training jobs and `docker run IMAGE serve`
# for endpoints and batch transform; /opt/ml is mounted by SageMaker at run time and
# nothing is baked under it here.
FROM debian:bookworm-slim

ARG DEBIAN_FRONTEND=noninteractive

# Runtime only: a headless JRE for Spark, nginx in front of gunicorn, Python 3.11 with
# venv, OpenBLAS for Spark's native BLAS (dev.ludovic.netlib loads libblas.so.3), tini as
# PID 1 (forwards SIGTERM from `docker stop`, reaps the JVM / worker children).
# The man1 directory must exist or the JRE's postinst fails on -slim images.
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless \
      nginx \
      python3 \
      python3-venv \
      libopenblas0 \
      tini \
      ca-certificates \
 && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/java-17 \
 && rm -f /etc/nginx/sites-enabled/default \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/log/apt/* /var/log/dpkg.log \
      /usr/share/doc/* /usr/share/man/* /usr/share/info/*

# MALLOC_ARENA_MAX: glibc gives every thread of a busy process its own malloc arena (up to 8 per
# core, each holding freed memory); two per process keep the JVMs' native memory near their heaps
# on a small leader host (cluster/sizing.py).
ENV JAVA_HOME=/usr/lib/jvm/java-17 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MALLOC_ARENA_MAX=2 \
    ALSRECO_SPEC_FILE=/opt/program/als_spec.json

# Pinned runtime dependencies first: this layer is reused until requirements.txt changes.
# pyspark ships as an sdist; its build needs no compiler. Trim what never runs here to keep
# the image lean (~120 MB): examples, sample data, R, test suites; the cluster-manager jars
# (Kubernetes, Mesos, YARN: Spark runs local[N] or standalone here) and RocksDB (only for
# the history server / streaming state / a disk-backed UI store, all unused); Arrow Flight.
COPY requirements.txt /opt/program/requirements.txt
RUN python3 -m venv "$VIRTUAL_ENV" \
 && pip install --no-cache-dir -r /opt/program/requirements.txt \
 && site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && rm -rf "$site/pyspark/examples" "$site/pyspark/data" "$site/pyspark/R" \
           "$site/pyspark/tests" "$site"/pyspark/*/tests "$site"/pyspark/*/*/tests \
           "$site"/pyarrow/tests "$site"/pandas/tests "$site"/numpy/*/tests \
 && rm -f "$site"/pyspark/jars/kubernetes-*.jar "$site"/pyspark/jars/spark-kubernetes_*.jar \
          "$site"/pyspark/jars/mesos-*.jar "$site"/pyspark/jars/spark-mesos_*.jar \
          "$site"/pyspark/jars/spark-yarn_*.jar "$site"/pyspark/jars/rocksdbjni-*.jar \
          "$site"/pyarrow/libarrow_flight.so* "$site"/pyarrow/_flight.*.so "$site"/pyarrow/flight.py \
 && find "$VIRTUAL_ENV" -name '__pycache__' -type d -prune -exec rm -rf {} +

# Optional extra Spark jars (e.g. hadoop-aws + the AWS SDK bundle for s3a:// input_uri): every
# docker/jars/*.jar joins Spark's classpath. None ship by default (see docker/jars/README.md).
COPY docker/jars/ /tmp/extra-jars/
RUN site="$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
 && find /tmp/extra-jars -maxdepth 1 -name '*.jar' -exec cp {} "$site/pyspark/jars/" \; \
 && rm -rf /tmp/extra-jars

# The entrypoint: `train` or `serve` (what SageMaker passes), anything else prints usage.
COPY docker/entrypoint.sh /usr/local/bin/alsreco-entrypoint

# The source last: code edits rebuild only these layers.
WORKDIR /opt/program
COPY als_spec.json /opt/program/als_spec.json
COPY . /opt/program/src
RUN pip install --no-cache-dir --no-deps /opt/program/src \
 && rm -rf /opt/program/src \
 && find "$VIRTUAL_ENV" -name '__pycache__' -type d -prune -exec rm -rf {} + \
 && command -v train && command -v serve

# The driver JVM's class-data archive (alsreco/train/spark/cds.py): a small training job records the
# classes Spark loads, `java -Xshare:dump` maps them into one file beside pyspark (~150 MB). Every
# `train` then starts its JVM ~5 s sooner (the sample: ~21 s -> ~14 s on 2 cores).
RUN python -m alsreco.train.warmup \
 && find "$VIRTUAL_ENV" -name '__pycache__' -type d -prune -exec rm -rf {} +

# multi-models: the image implements SageMaker's multi-model contract (SAGEMAKER_MULTI_MODEL=true, docs/deploy.md)
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      com.amazonaws.sagemaker.capabilities.multi-models=true \
      org.opencontainers.image.title="alsreco" \
      org.opencontainers.image.description="Spark ALS product recommendations (SageMaker BYOC)" \
      org.opencontainers.image.licenses="Apache-2.0"

EXPOSE 8080

ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/alsreco-entrypoint"]
CMD []
