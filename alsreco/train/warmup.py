"""Build the driver JVM's class-data archive (`spark/cds.py`): `python -m alsreco.train.warmup`.

A small training job on generated sales (the pandas and the Spark data paths, both evaluation
protocols, the ALS fit, batch recommendations) runs with `-XX:DumpLoadedClassList`; the classes it
loaded are then dumped for the exact classpath and JVM that Spark launched. Run once per
installation (the Docker build and `make venv` do); takes about a minute on 2 cores. Exit 0 when
the archive was written (or ALSRECO_SPARK_CDS=off), 1 with the reason otherwise.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import AlsrecoError
from ..core.logs import configure_logging
from ..core.paths import Paths
from ..core.settings import SPARK_CDS, Settings
from .spark import cds
from .spark import session as spark_mod

log = logging.getLogger("alsreco.train.warmup")
LINES, CUSTOMERS, PRODUCTS = 4_000, 300, 150


def write_sales(path: Path, seed: int = 0) -> None:
    """Online Retail-shaped lines: invoices of a few products over 60 days, a cancellation among them."""
    rng = np.random.default_rng(seed)
    start = dt.datetime(2024, 1, 1, 9, 0)
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
                      "CustomerID", "Country"])
        for n in range(LINES // 4):
            customer = 10_000 + int(rng.zipf(1.5) % CUSTOMERS)
            when = start + dt.timedelta(minutes=int(n * 60 * 24 * 60 / (LINES // 4)))
            invoice = f"{'C' if n % 97 == 0 else ''}{500_000 + n}"
            for product in rng.choice(PRODUCTS, size=4, replace=False):
                out.writerow([invoice, f"P{int(product):04d}", f"ITEM {int(product)}", int(rng.integers(1, 12)),
                              when.strftime("%m/%d/%Y %H:%M"), "1.25", customer, "United Kingdom"])


def workload(spark, base: Path, settings: Settings) -> None:
    """What `train` does, small: the pandas path end to end, then the Spark data path."""
    from ..core import hyperparameters
    from . import als, prepare
    from .main import run

    paths = Paths(base)
    run(paths, settings, session=spark)
    hp = hyperparameters.load(paths, settings.spec_file)
    files = sorted(paths.channel_dir("training").iterdir())
    prepared = prepare.spark_path(spark, hp, files, stage=base, local=True)
    for protocol in ("time_window", "last_basket"):
        prepared.split(protocol, prepared.as_of - pd.Timedelta(days=hp["eval_days"] - 1))
    als.fit(spark, prepared.ratings, hp, prepared.frame)
    prepared.release()


def build(settings: Settings) -> Path | None:
    archive = cds.archive_path(settings)
    if archive is None:
        log.info("%s=off: no class-data archive", SPARK_CDS)
        return None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="alsreco-warmup-", dir=settings.tmpdir) as tmp:
        base = Path(tmp) / "opt_ml"
        channel = base / "input" / "data" / "training"
        channel.mkdir(parents=True)
        (base / "input" / "config").mkdir()
        (base / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"max_itter": "3"}))
        write_sales(channel / "sales.csv")
        class_list = Path(tmp) / "classes.lst"
        options = f"{spark_mod.JAVA_OPTIONS} -XX:DumpLoadedClassList={class_list}"
        own = settings.with_(base_dir=base, spark_master="",
                             spark_conf={**settings.spark_conf, "spark.driver.extraJavaOptions": options})
        spark = spark_mod.start(Paths(base), own)
        try:
            workload(spark, base, own)
            jvm = spark.sparkContext._jvm.System
            classpath, java = str(jvm.getProperty("java.class.path")), f"{jvm.getProperty('java.home')}/bin/java"
        finally:
            spark_mod.stop(spark)
        classes = sum(1 for _ in open(class_list))
        log.info("warm-up job done: %d classes loaded; writing %s", classes, archive)
        cds.dump(java, classpath, class_list, archive)
    log.info("class-data archive %s written (%.0f MB) in %.0f s", archive, archive.stat().st_size / 1e6,
             time.monotonic() - started)
    return archive


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    try:
        build(Settings.from_env())
        return 0
    except (AlsrecoError, OSError) as exc:
        log.error("no class-data archive (train still works, its JVM just starts slower): %s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
