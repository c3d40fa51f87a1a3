"""The page's product catalogue, built from a model directory (what `train` writes).

    python -m api.catalogue MODEL_DIR [OUT.json]      (default: stdout)

`catalogue.json` sits next to the page (S3, or the local front), readable by anyone: the page
searches products by name in it. It holds products only - never a customer id or anything drawn
from one customer's purchases. Built from `product_ids.npy`, `product_names.npy`,
`product_popularity.npy`, `new_products.npy` and `metadata.json` only (numpy, no pickle), so it
does not depend on the alsreco package.

    {"model_version": "...", "products": [{"id", "name", "popularity", "new"}...] (best sellers first)}
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np


def _load(model_dir: Path, name: str) -> np.ndarray:
    return np.load(model_dir / f"{name}.npy", allow_pickle=False)


def build(model_dir: Path) -> dict[str, Any]:
    model_dir = Path(model_dir)
    meta_file = model_dir / "metadata.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{meta_file} is missing: not a complete model directory")
    meta = json.loads(meta_file.read_text())
    ids, names = _load(model_dir, "product_ids"), _load(model_dir, "product_names")
    popularity = _load(model_dir, "product_popularity").astype(np.int64)
    new = set(int(i) for i in _load(model_dir, "new_products"))
    order = sorted(range(len(ids)), key=lambda i: (-int(popularity[i]), str(ids[i])))
    products = [{"id": str(ids[i]), "name": str(names[i]), "popularity": int(popularity[i]), "new": i in new}
                for i in order]
    return {"model_version": meta.get("model_version") or meta.get("version"), "products": products}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    text = json.dumps(build(Path(args[0])), separators=(",", ":"))
    if len(args) == 2:
        Path(args[1]).write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
