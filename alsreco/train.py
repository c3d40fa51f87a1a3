"""`train`: /opt/ml/input -> Spark ALS model in /opt/ml/model, metrics, batch recommendations.

Exit 0 on success. On failure the reason (first 1024 characters) goes to /opt/ml/output/failure,
the full trace to stderr, and the exit code says which kind: 2 user error (data, hyperparameters),
1 algorithm error, 143 stopped by SIGTERM. No model is left behind by a failed run.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from . import artifact, batch, channels, cluster, data, hyperparameters, ratings, spark as spark_mod, training
from .errors import AlgorithmError, AlsrecoError, SigtermInterrupt, Terminated, UserError
from .paths import Paths

log = logging.getLogger("alsreco.train")
FAILURE_LIMIT = 1024
TERMINATED = "training was stopped by SIGTERM before it finished; no model was written"


def run(paths: Paths, session: Any = None) -> dict[str, Any]:
    """The training job. Returns the model's metadata.

    With `session` given, Spark is the caller's to stop; otherwise a session sized to this
    machine is started after the data has loaded (bad data fails before the JVM starts).
    """
    started = time.monotonic()
    artifact.remove_staging(paths.model_dir) if paths.model_dir.is_dir() else None
    hp = hyperparameters.load(paths)
    log.info("hyperparameters: %s", {k: v for k, v in hp.items() if k != "non_product_codes"})
    own = session is None
    try:
        if hp["input_uri"]:  # read by Spark (s3a://, hdfs://, file://): Spark must start first
            session = spark_mod.start(paths) if own else session
            with tempfile.TemporaryDirectory(prefix="alsreco-input-") as tmp:
                df, report = data.load([channels.fetch_uri(session, hp["input_uri"], hp, Path(tmp))], hp)
            source = {"channel": hp["input_uri"], "input_mode": "uri"}
        else:
            channel = channels.discover(paths)
            df, report = data.load(channel.files, hp)
            source = {"channel": channel.name, "input_mode": channel.mode}
        as_of = ratings.as_of_date(df, hp)
        r = ratings.build(df, hp, as_of)
        cat = ratings.catalogue(df, r, hp, as_of)
        log.info("%d customers, %d products, %d ratings; as of %s: %d new products, %d new customers",
                 r.shape[0], r.shape[1], len(r.rating), as_of.date(), len(cat.new_products),
                 len(cat.new_customers))
        if session is None:
            session = spark_mod.start(paths, ratings=len(r.rating))
        evaluation = training.evaluate(session, df, hp, as_of) if hp["eval_days"] > 0 else {"skipped": "eval_days=0"}
        training.log_metrics(evaluation)
        users, items = training.fit(session, r, hp)
        versions = training.library_versions(session)
        cluster_info = cluster.describe(session)
    except BaseException:
        if own and session is not None:
            spark_mod.stop(session, force=True)
        raise
    if own:
        spark_mod.stop(session)
    metadata = {
        "model_version": training.model_version(),
        "hyperparameters": hp,
        "als": {"rank": hp["als_rank"], "reg_param": hp["reg_param"], "alpha": hp["alpha"],
                "implicit_prefs": hp["implicit_prefs"], "max_iter": hp["max_itter"],
                "nonnegative": hp["nonnegative"], "ranking_type": hp["ranking_type"]},
        "retention_date": str(as_of.date()),
        "data": {**report.as_dict(), **source,
                 "customers": r.shape[0], "products": r.shape[1], "ratings": int(len(r.rating)),
                 "first_date": str(df["date"].min()), "last_date": str(df["date"].max()),
                 "new_products": int(len(cat.new_products)), "new_customers": int(len(cat.new_customers))},
        "metrics": evaluation,
        "versions": versions,
        "cluster": cluster_info,
    }
    model = training.assemble(r, cat, users, items, metadata)
    written = batch.write_recommendations(model, paths.output_data_dir / "recommendations.csv")
    metadata["training_seconds"] = round(time.monotonic() - started, 2)
    metadata["data"]["recommendation_rows"] = written
    artifact.write_model(model, paths.model_dir)
    log.info("model %s written to %s in %.1fs", metadata["model_version"], paths.model_dir,
             metadata["training_seconds"])
    return metadata


def write_failure(paths: Paths, err: BaseException) -> None:
    kind = err.kind if isinstance(err, AlsrecoError) else "AlgorithmError"
    message = f"{kind}: {err}"
    try:
        paths.output_dir.mkdir(parents=True, exist_ok=True)
        paths.failure_file.write_text(message[:FAILURE_LIMIT])
    except OSError as exc:  # the reason still reaches stderr
        log.error("cannot write %s: %s", paths.failure_file, exc)


class _StopOnSigterm:
    """SIGTERM handling that also works while the main thread is blocked inside a Spark call.

    Python runs signal handlers only between bytecodes of the main thread, which may sit in a
    py4j socket read for minutes. So a watcher thread reads the signal wake-up fd and kills
    the JVM, which unblocks the main thread, where the handler then raises `Terminated`.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._raise)
        threading.Thread(target=self._watch, args=(read_fd,), name="sigterm-watch", daemon=True).start()

    def _raise(self, signum, frame):
        self.requested.set()
        raise SigtermInterrupt()

    def _watch(self, fd: int) -> None:
        while True:
            got = os.read(fd, 64)
            if not got:
                return
            if signal.SIGTERM in got:
                self.requested.set()
                log.error("SIGTERM received: stopping Spark")
                spark_mod.kill_active_jvm()
                spark_mod.kill_children()  # a JVM still starting up has no gateway handle yet


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    paths = Paths.from_env()
    stopper = _StopOnSigterm()
    paths.failure_file.unlink(missing_ok=True)
    try:
        try:
            cluster.run_role(paths, run)  # one host: run(paths); several: leader or worker
            return 0
        except UserError as err:
            error: AlsrecoError = err
        except (Terminated, SigtermInterrupt):
            error = Terminated(TERMINATED)
        except Exception as exc:  # noqa: BLE001 - every other failure is the algorithm's
            error = Terminated(TERMINATED) if stopper.requested.is_set() else \
                AlgorithmError(f"{type(exc).__name__}: {exc}")
            if not stopper.requested.is_set():
                traceback.print_exc()
    except SigtermInterrupt:  # SIGTERM while classifying another failure
        error = Terminated(TERMINATED)
    log.error("%s: %s", error.kind, error)
    write_failure(paths, error)
    return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
