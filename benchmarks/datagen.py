"""Seeded synthetic sales history in the Online Retail layout, with power-law popularity.

    python -m benchmarks.datagen --rows 1000000 --customers 100000 --products 20000 out.csv.gz

Customer activity and product popularity both follow Zipf-like laws; each customer also has a
taste (a preferred product "neighbourhood") so there is collaborative signal for ALS to find.
Invoices group 1-30 lines on one date between `start` and `start + days`.

`lifecycle` (opt-in, `--lifecycle 0.5`; 0 = the data above, byte for byte): that share of the products
launch and fade. Each gets a launch day (uniform from 30 days before `start` to the last day) and a
life of LIFE_DAYS; on day t after its launch its weight is its popularity x LIFECYCLE_PEAK x x e^(1 - x)
with x = (t - launch) / (life / 3): it rises to a peak a third into its life, then fades over weeks.
Both ways a line picks a product follow it: the best sellers of the day, and the customer's
neighbourhood as it is that day. The other products sell all year as before. Seeded like the rest
(the life cycles from their own stream: (seed, 23)).

`movielens_like`: events shaped like MovieLens ratings (one event per line, no invoices, users active in
short bursts over years), for `tune` on data whose last days hold almost no returning customer.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

LIFE_DAYS = (14, 60)  # a launched product's life, uniform in this range of days
LIFECYCLE_PEAK = 3.0  # its weight at the peak, relative to its all-year popularity
NEIGHBOURHOOD = 25  # a customer's taste: products within this many indices of their centre
COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
           "Country")


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    rng.shuffle(w)
    return w / w.sum()


def generate(rows: int, customers: int, products: int, seed: int = 0, days: int = 365,
             start: str = "2011-01-01", taste: float = 0.7, lifecycle: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    cust_w = _zipf_weights(customers, 1.0, rng)
    prod_w = _zipf_weights(products, 1.1, rng)
    life = _life_cycles(products, days, lifecycle, seed) if lifecycle > 0 else None
    return _lines(rng, rows, cust_w, prod_w, 0, days, start, taste, life)[0]


def _life_cycles(products: int, days: int, share: float, seed: int) -> np.ndarray:
    """days x products weight multipliers: 1 for the products that sell all year, the launch-and-fade
    curve for a `share` of them (chosen, launched and given a life by the (seed, 23) stream)."""
    rng = np.random.default_rng([seed, 23])
    launched = rng.random(products) < share
    launch = rng.integers(-30, days, size=products)
    life = rng.integers(LIFE_DAYS[0], LIFE_DAYS[1] + 1, size=products)
    x = (np.arange(days)[:, None] - launch[None, :]) / (life[None, :] / 3.0)
    curve = np.where(x >= 0, LIFECYCLE_PEAK * np.clip(x, 0, None) * np.exp(1.0 - np.clip(x, 0, None)), 0.0)
    return np.where(launched[None, :], curve, 1.0)


def generate_parts(rows: int, customers: int, products: int, part_rows: int, seed: int = 0, days: int = 365,
                   start: str = "2011-01-01", taste: float = 0.7) -> Iterator[pa.Table]:
    """The same laws as `generate`, `part_rows` lines at a time (memory bounded by one part): one
    popularity and activity law for all parts, invoice numbers running on across parts."""
    rng = np.random.default_rng(seed)
    cust_w = _zipf_weights(customers, 1.0, rng)
    prod_w = _zipf_weights(products, 1.1, rng)
    invoice0, done, part = 0, 0, 0
    while done < rows:
        n = min(part_rows, rows - done)
        table, invoices = _lines(np.random.default_rng([seed, part]), n, cust_w, prod_w, invoice0, days, start,
                                 taste)
        yield table
        invoice0, done, part = invoice0 + invoices, done + n, part + 1


def _lines(rng: np.random.Generator, rows: int, cust_w: np.ndarray, prod_w: np.ndarray, invoice0: int, days: int,
           start: str, taste: float, life: np.ndarray | None = None) -> tuple[pa.Table, int]:
    customers, products = len(cust_w), len(prod_w)
    # invoices: pick a customer per invoice, then its lines
    lines_per_invoice = np.clip(rng.geometric(1 / 8, size=rows // 4 + 16), 1, 30)
    ends = np.cumsum(lines_per_invoice)
    n_inv = int(np.searchsorted(ends, rows)) + 1
    lines_per_invoice = lines_per_invoice[:n_inv]
    lines_per_invoice[-1] -= int(lines_per_invoice.sum() - rows)
    inv_customer = rng.choice(customers, size=n_inv, p=cust_w)
    inv_day = rng.integers(0, days, size=n_inv)
    inv_minute = rng.integers(8 * 60, 20 * 60, size=n_inv)
    invoice = np.repeat(np.arange(n_inv), lines_per_invoice)
    customer = inv_customer[invoice]
    # products: a mix of global popularity and the customer's neighbourhood of the catalogue
    centre = (customer * 2654435761) % products
    if life is None:
        popular = rng.choice(products, size=rows, p=prod_w)
        local = (centre + rng.integers(-NEIGHBOURHOOD, NEIGHBOURHOOD + 1, size=rows)) % products
    else:
        popular, local = _dated_picks(rng, inv_day[invoice], centre, prod_w, life)
    product = np.where(rng.random(rows) < taste, local, popular)
    quantity = np.clip(rng.geometric(0.3, size=rows), 1, 48)
    minutes = inv_day[invoice].astype("int64") * 1440 + inv_minute[invoice]
    dates = np.datetime64(start, "m") + minutes.astype("timedelta64[m]")
    price = np.round(0.5 + (product % 97) / 10.0, 2)
    table = pa.table({
        "InvoiceNo": pa.array((500000 + invoice0 + invoice).astype(str)),
        "StockCode": pa.array(np.char.add("P", product.astype(str))),
        "Description": pa.array(np.char.add("PRODUCT ", product.astype(str))),
        "Quantity": pa.array(quantity),
        "InvoiceDate": pa.array(dates.astype("datetime64[s]").astype(str)),
        "UnitPrice": pa.array(price),
        "CustomerID": pa.array((10000 + customer).astype(str)),
        "Country": pa.array(np.full(rows, "United Kingdom")),
    })
    return table, n_inv


def _dated_picks(rng: np.random.Generator, day: np.ndarray, centre: np.ndarray, prod_w: np.ndarray,
                 life: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best-seller pick, neighbourhood pick) per line, each weighted by the products' life cycle on the
    line's day: one vectorised draw per day of lines."""
    products = len(prod_w)
    popular, local = np.empty(len(day), np.int64), np.empty(len(day), np.int64)
    offsets = np.arange(-NEIGHBOURHOOD, NEIGHBOURHOOD + 1)
    for d in np.unique(day):
        at = np.flatnonzero(day == d)
        w = prod_w * life[d]
        popular[at] = rng.choice(products, size=len(at), p=w / w.sum())
        near = (centre[at, None] + offsets[None, :]) % products  # lines x neighbourhood
        cum = np.cumsum(life[d][near] + 1e-3, axis=1)  # + a little: a neighbourhood of faded products still sells
        pick = (cum < rng.random(len(at))[:, None] * cum[:, -1:]).sum(axis=1)
        local[at] = near[np.arange(len(at)), pick]
    return popular, local


def movielens_like(users: int = 2_000, movies: int = 800, years: int = 3, seed: int = 0,
                   start: str = "1998-01-01") -> pa.Table:
    """Events shaped like MovieLens ratings read as purchases: one event per line (userId, movieId,
    rating, timestamp), no invoice and no quantity column, years of history, and each user active in a
    few sessions close together: they join on a day spread over the years, then come back 1-4 times
    (gaps of ~3 weeks), rating 3-20 movies a session; movies by Zipf popularity and the user's taste."""
    rng = np.random.default_rng([seed, 1995])
    movie_w = _zipf_weights(movies, 1.0, rng)
    join = rng.integers(0, years * 365, size=users)
    sessions = 1 + rng.integers(1, 5, size=users)
    user = np.repeat(np.arange(users), sessions)
    first = np.r_[0, np.cumsum(sessions)[:-1]]
    gap = rng.geometric(1 / 21, size=len(user))
    gap[first] = 0
    day = join[user] + (np.cumsum(gap) - np.repeat(np.cumsum(gap)[first], sessions))
    per = rng.integers(3, 21, size=len(user))
    line_user, line_day = np.repeat(user, per), np.repeat(day, per)
    n = len(line_user)
    local = (line_user * 2654435761 + rng.integers(-20, 21, size=n)) % movies
    movie = np.where(rng.random(n) < 0.5, local, rng.choice(movies, size=n, p=movie_w))
    seconds = line_day.astype("int64") * 86400 + rng.integers(0, 86400, size=n)
    stamp = np.datetime64(start, "s") + seconds.astype("timedelta64[s]")
    return pa.table({"userId": pa.array((1 + line_user).astype(str)), "movieId": pa.array((1 + movie).astype(str)),
                     "rating": pa.array(rng.integers(1, 6, size=n)), "timestamp": pa.array(stamp.astype(str))})


def write(table: pa.Table, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    compression = "gzip" if path.name.endswith(".gz") else None
    with pa.output_stream(str(path), compression=compression) as out:
        pacsv.write_csv(table, out)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--products", type=int, default=4_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--lifecycle", type=float, default=0.0,
                    help="share of the products that launch and fade (0 = none: the default data)")
    args = ap.parse_args()
    write(generate(args.rows, args.customers, args.products, args.seed, args.days, lifecycle=args.lifecycle),
          args.out)


if __name__ == "__main__":
    main()
