"""The ALS fit's progress against real Spark: the fit runs exactly the Spark jobs `als_jobs`
predicts (the iteration count and the time left in the log come from that number)."""
import logging

import numpy as np
import pytest

from alsreco.train.spark import progress

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("max_iter", [3, 12])
def test_an_implicit_als_fit_runs_the_predicted_number_of_spark_jobs(spark, max_iter, caplog):
    from pyspark.ml.recommendation import ALS

    rng = np.random.default_rng(max_iter)
    rows = [(int(u), int(i), 1.0) for u, i in zip(rng.integers(0, 200, 3000), rng.integers(0, 100, 3000))]
    frame = spark.createDataFrame(rows, "user int, item int, rating float").cache()
    frame.count()
    expected = progress.als_jobs(max_iter, True, 10)
    sc = spark.sparkContext
    with caplog.at_level(logging.INFO, logger="alsreco.train.spark.progress"):
        with progress.logged(spark, "fit", every=0.2, expected_jobs=expected, iterations=max_iter):
            group = sc.getLocalProperty("spark.jobGroup.id")
            ALS(rank=4, maxIter=max_iter, implicitPrefs=True, numUserBlocks=2, numItemBlocks=2,
                checkpointInterval=10, seed=0).fit(frame)
    assert group.startswith("alsreco-") and sc.getLocalProperty("spark.jobGroup.id") is None
    assert progress.finished_jobs(spark, group) == expected
    frame.unpersist()
