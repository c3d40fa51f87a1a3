import numpy as np

from alsreco.core import hyperparameters as h
from alsreco.train.inputs import read
from benchmarks import datagen


def test_generator_is_seeded_power_law_and_readable_by_train(tmp_path):
    a = datagen.generate(20_000, 2_000, 500, seed=3)
    b = datagen.generate(20_000, 2_000, 500, seed=3)
    assert a.equals(b) and a.num_rows == 20_000 and tuple(a.column_names) == datagen.COLUMNS
    assert not a.equals(datagen.generate(20_000, 2_000, 500, seed=4))
    counts = np.sort(np.bincount(np.char.lstrip(a["StockCode"].to_numpy(zero_copy_only=False).astype(str), "P")
                                 .astype(int)))[::-1]
    assert counts[:10].sum() > 10 * counts[len(counts) // 2]  # heavy head, long tail
    path = datagen.write(a, tmp_path / "gen.csv.gz")
    df, report = read.load([path], h.defaults())
    assert report.rows_used == 20_000 and report.malformed == 0
    assert df["date"].min() >= np.datetime64("2011-01-01")
