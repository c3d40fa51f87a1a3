"""`train`: /opt/ml/input -> Spark ALS model in /opt/ml/model, metrics, batch recommendations.

Exit 0 on success. On failure the reason (first 1024 characters) goes to /opt/ml/output/failure,
the full trace to stderr, and the exit code says which kind: 2 user error (data, hyperparameters),
1 algorithm error, 143 stopped by SIGTERM. No model is left behind by a failed run.
"""
from __future__ import annotations

import logging
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ..core import artifact, hyperparameters
from ..core.errors import (
    AlgorithmError,
    AlsrecoError,
    SigtermInterrupt,
    Terminated,
    UserError,
)
from ..core.logs import configure_logging
from ..core.paths import Paths
from ..core.settings import Settings
from . import als, batch, batch_spark, catalog_build, evaluate, prepare, similar, weighting
from .cluster.config import load_resource_config
from .cluster.describe import describe as describe_cluster
from .cluster.roles import run_role
from .inputs import channels
from .inputs import event_files as event_channel
from .inputs.spark_files import spool_pipes
from .ratings import half_life
from .sigterm import StopOnSigterm
from .spark import jvm
from .spark import session as spark_mod
from .spark.filesystems import check_input_uri
from .spark.resources import cpu_count

log = logging.getLogger("alsreco.train")
FAILURE_LIMIT = 1024
TERMINATED = "training was stopped by SIGTERM before it finished; no model was written"


@dataclass
class Job:
    """How far a run got; `main` reads it to tell a real failure from a late SIGTERM."""

    model_written: bool = False


def run(paths: Paths, settings: Settings | None = None, session: Any = None, job: Job | None = None) -> dict[str, Any]:
    """The training job. Returns the model's metadata.

    With `session` given, Spark is the caller's to stop; otherwise a session sized to this
    machine is started after the data has loaded on the pandas path (bad data fails before the
    JVM starts), or first on the Spark path (`prepare.use_spark`: large inputs, input_uri, the
    job's own multi-host cluster).
    """
    started = time.monotonic()
    settings = settings or Settings(base_dir=paths.base)
    artifact.remove_staging(paths.model_dir) if paths.model_dir.is_dir() else None
    hp = hyperparameters.load(paths, settings.spec_file)
    log.info("hyperparameters: %s", {k: v for k, v in hp.items() if k != "non_product_codes"})
    evaluate.check(hp)
    own = session is None
    own_cluster = bool((rc := load_resource_config(paths)) and rc.multi_host)
    prepared: prepare.Prepared | None = None
    try:
        with tempfile.TemporaryDirectory(prefix="alsreco-input-", dir=settings.tmpdir) as tmp:
            event_files = event_channel.discover(paths)  # shopper events beside the sales (docs/live.md)
            if hp["input_uri"]:  # read by Spark in place (s3a://, hdfs://, file://): Spark starts first
                check_input_uri(hp["input_uri"], settings)
                session = spark_mod.start(paths, settings) if own else session
                prepared = prepare.spark_path(session, hp, uri=hp["input_uri"], event_files=event_files)
                source = {"channel": hp["input_uri"], "input_mode": "uri"}
            else:
                channel = channels.discover(paths)
                files = spool_pipes(list(channel.files), Path(tmp))
                source = {"channel": channel.name, "input_mode": channel.mode}
                if prepare.use_spark(files, settings, own_cluster):
                    session = spark_mod.start(paths, settings) if own else session
                    prepared = prepare.spark_path(session, hp, files, stage=Path(tmp),
                                                  local=prepare.is_local(settings), event_files=event_files)
                else:
                    prepared = prepare.pandas_path(files, hp, event_files)
            source["data_path"] = prepared.path
            r, cat, as_of = prepared.ratings, prepared.catalogue, prepared.as_of
            built = catalog_build.build(r.product_ids, cat.product_names, cat.product_first_seen,
                                        prepared.attributes or {}, channels.auxiliary_files(paths, "catalog"), hp)
            batch_reads_purchases = catalog_build.check_filters(built, hp)
            log.info("%d customers, %d products, %d ratings; as of %s: %d new products, %d new customers",
                     r.shape[0], r.shape[1], len(r.rating), as_of.date(), len(cat.new_products),
                     len(cat.new_customers))
            if session is None:
                session = spark_mod.start(paths, settings, ratings=len(r.rating))
            outcome = evaluate.run(session, hp, as_of, prepared)
            evaluation, fitted, tuning = outcome.metrics, outcome.fitted, outcome.tuning
            evaluate.log_metrics(evaluation)
            base_frame = prepared.frame
            if fitted["recency_half_life_days"] != half_life(hp):  # auto chose a half-life: rate the lines again
                r, base_frame = prepared.reweigh(fitted["recency_half_life_days"])
            r = weighting.weigh(r, fitted)  # the model's purchases hold the ratings ALS was fitted on
            frame = weighting.frame(session, r, base_frame, fitted)
            users, items = als.fit(session, r, fitted, frame)
            items, placed = catalog_build.extend_factors(built, items, hp)
            if frame is not None and frame is not prepared.frame:
                frame.unpersist()
            prepared.release()
        versions = als.library_versions(session)
        cluster_info = describe_cluster(session)
    except BaseException as exc:
        _failed(exc, session, own, prepared)
    # the job's own cluster scores on its executors (they run this image); elsewhere the leader does
    on_executors = own_cluster and not prepare.is_local(settings) and not batch_reads_purchases
    if own and not on_executors:
        spark_mod.stop(session)
    metadata = {
        "model_version": als.model_version(),
        "hyperparameters": hp,
        "als": {"rank": fitted["als_rank"], "reg_param": fitted["reg_param"], "alpha": fitted["alpha"],
                "implicit_prefs": fitted["implicit_prefs"], "max_iter": fitted["max_itter"],
                "fits": als.fits_for(fitted, len(r.rating)),
                "nonnegative": fitted["nonnegative"], "ranking_type": fitted["ranking_type"],
                "weighting": fitted["weighting"], "bm25_k1": fitted["bm25_k1"], "bm25_b": fitted["bm25_b"],
                "recency_half_life_days": fitted["recency_half_life_days"]},
        "retention_date": str(as_of.date()),
        "data": {**prepared.report.as_dict(), **source, **({"events": prepared.events} if prepared.events else {}),
                 "customers": r.shape[0], "products": r.shape[1], "ratings": int(len(r.rating)),
                 "first_date": prepared.first_date, "last_date": prepared.last_date,
                 "new_products": int(len(cat.new_products)), "new_customers": int(len(cat.new_customers))},
        "catalog": {**built.report, "placement": placed},
        "metrics": evaluation,
        **({"tuning": tuning.as_dict(f"ndcg_at_{hp['eval_k']}")} if tuning is not None else {}),
        "recency": outcome.recency, "blend": outcome.blend, "trends": cat.trends.summary(hp, as_of),
        "versions": versions,
        "cluster": cluster_info,
    }
    model = catalog_build.attach(als.assemble(r, cat, users, items[:built.n_sold], metadata), built, items, as_of)
    cores = cpu_count()  # each block's top-k on every core (the block's matrix product already is)
    reco_path = paths.output_data_dir / "recommendations.csv"
    if on_executors:
        try:
            written = batch_spark.write_recommendations(session, model, reco_path)
            metadata["cluster"] = describe_cluster(session)  # the scoring tasks counted too
        except BaseException as exc:
            _failed(exc, session, own)
        if own:
            spark_mod.stop(session)
    else:
        written = batch.write_recommendations(model, reco_path, threads=cores)
    metadata["data"]["recommendations_scored_on"] = "executors" if on_executors else "leader"
    if hp["similar_items"]:
        similar.write_similar_items(model, paths.output_data_dir / "similar_items.csv", threads=cores)
    metadata["training_seconds"] = round(time.monotonic() - started, 2)
    metadata["data"]["recommendation_rows"] = written
    artifact.write_model(model, paths.model_dir)
    if job is not None:
        job.model_written = True
    log.info("model %s written to %s in %.1fs", metadata["model_version"], paths.model_dir,
             metadata["training_seconds"])
    return metadata


def _failed(exc: BaseException, session: Any, own: bool, prepared: prepare.Prepared | None = None) -> NoReturn:
    """Stop (our own) Spark after a failure and raise it as the error the job reports."""
    # Words for the failure file while the JVM still answers: after the kill, turning a Java
    # exception into text would call into a dead JVM and lose the reason.
    reason = None if isinstance(exc, (AlsrecoError, SigtermInterrupt)) or not isinstance(exc, Exception) \
        else jvm.describe_error(exc)
    if own and session is not None:
        spark_mod.stop(session, force=True)
    elif prepared is not None and session is not None:
        prepared.release()
    if reason is not None:
        raise AlgorithmError(reason) from exc
    raise exc


def write_failure(paths: Paths, err: BaseException) -> None:
    """The reason, first FAILURE_LIMIT characters, to output/failure. On a full volume, partial
    outputs (temp files, staged model) are removed first to make room for it."""
    kind = err.kind if isinstance(err, AlsrecoError) else "AlgorithmError"
    message = f"{kind}: {err}"[:FAILURE_LIMIT]
    for attempt in range(2):
        try:
            paths.output_dir.mkdir(parents=True, exist_ok=True)
            paths.failure_file.write_text(message)
            return
        except OSError as exc:
            paths.failure_file.unlink(missing_ok=True)  # never leave an empty or cut reason
            if attempt == 0:
                log.error("cannot write %s (%s): removing partial outputs and retrying", paths.failure_file, exc)
                remove_partial_outputs(paths)
            else:  # the reason still reaches stderr
                log.error("cannot write %s: %s", paths.failure_file, exc)


def remove_partial_outputs(paths: Paths) -> None:
    for tmp in paths.output_data_dir.glob(".*.tmp") if paths.output_data_dir.is_dir() else ():
        tmp.unlink(missing_ok=True)
    if paths.model_dir.is_dir():
        artifact.remove_staging(paths.model_dir)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    stopper = StopOnSigterm()
    job = Job()
    paths = None
    try:
        try:
            settings = Settings.from_env()
            paths = Paths(settings.base_dir)
            paths.failure_file.unlink(missing_ok=True)
            # one host: run(paths, settings); several: leader or worker
            run_role(paths, settings, lambda p, s: run(p, s, job=job))
            stopper.finished()
            return 0
        except (UserError, AlgorithmError) as err:
            error: AlsrecoError = Terminated(TERMINATED) if stopper.requested.is_set() else err
        except (Terminated, SigtermInterrupt):
            error = Terminated(TERMINATED)
        except Exception as exc:  # noqa: BLE001 - every other failure is the algorithm's
            error = Terminated(TERMINATED) if stopper.requested.is_set() else \
                AlgorithmError(f"{type(exc).__name__}: {exc}")
            if not stopper.requested.is_set():
                traceback.print_exc()
    except SigtermInterrupt:  # SIGTERM while classifying another failure
        error = Terminated(TERMINATED)
    if isinstance(error, Terminated) and job.model_written:
        # Stopped while shutting down after the model was written (e.g. the platform ends a
        # multi-host job once a worker exits): the job succeeded, and says so.
        stopper.finished()
        log.info("SIGTERM after the model was written: the job succeeded")
        return 0
    log.error("%s: %s", error.kind, error)
    if paths is None:
        paths = Paths(Settings.base_only().base_dir)
    write_failure(paths, error)
    return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
