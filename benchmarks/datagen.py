"""Seeded synthetic sales history in the Online Retail layout, with power-law popularity.

    python -m benchmarks.datagen --rows 1000000 --customers 100000 --products 20000 out.csv.gz

Customer activity and product popularity both follow Zipf-like laws; each customer also has a
taste (a preferred product "neighbourhood") so there is collaborative signal for ALS to find.
Invoices group 1-30 lines on one date between `start` and `start + days`.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

COLUMNS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID",
           "Country")


def _zipf_weights(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** exponent
    rng.shuffle(w)
    return w / w.sum()


def generate(rows: int, customers: int, products: int, seed: int = 0, days: int = 365,
             start: str = "2011-01-01", taste: float = 0.7) -> pa.Table:
    rng = np.random.default_rng(seed)
    cust_w = _zipf_weights(customers, 1.0, rng)
    prod_w = _zipf_weights(products, 1.1, rng)
    return _lines(rng, rows, cust_w, prod_w, 0, days, start, taste)[0]


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
           start: str, taste: float) -> tuple[pa.Table, int]:
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
    popular = rng.choice(products, size=rows, p=prod_w)
    centre = (customer * 2654435761) % products
    local = (centre + rng.integers(-25, 26, size=rows)) % products
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
    args = ap.parse_args()
    write(generate(args.rows, args.customers, args.products, args.seed, args.days), args.out)


if __name__ == "__main__":
    main()
