"""Find the training files: the channel from `inputdataconfig.json`, its input mode, its files."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import UserError
from ...core.paths import Paths, read_json_object

log = logging.getLogger(__name__)
DEFAULT_CHANNEL = "training"
EVENTS_CHANNEL = "events"  # shopper events, read on their own (event_files.py): never the training channel
AUXILIARY = ("catalog", EVENTS_CHANNEL)  # channels that are not the sales history


@dataclass(frozen=True)
class Channel:
    name: str
    mode: str  # File | FastFile | Pipe
    files: tuple[Path, ...]


def input_data_config(paths: Paths) -> dict:
    """`inputdataconfig.json` (channel name -> settings); {} when absent."""
    return read_json_object(paths.inputdataconfig_file, missing={})


def _pick_channel(paths: Paths, config: dict) -> str:
    config = {k: v for k, v in config.items() if k not in AUXILIARY}
    if DEFAULT_CHANNEL in config:
        return DEFAULT_CHANNEL
    if len(config) == 1:
        return next(iter(config))
    if len(config) > 1:
        raise UserError(f"{paths.inputdataconfig_file} names channels {sorted(config)}; "
                        f"name the training data channel '{DEFAULT_CHANNEL}'")
    present = sorted(p.name for p in paths.data_dir.iterdir() if p.is_dir() and p.name not in AUXILIARY) \
        if paths.data_dir.is_dir() else []
    if DEFAULT_CHANNEL in present or not present:
        return DEFAULT_CHANNEL
    if len(present) == 1:
        return present[0]
    raise UserError(f"found channels {present} under {paths.data_dir}; name the training channel "
                    f"'{DEFAULT_CHANNEL}' or keep a single one")


def _is_data_file(path: Path) -> bool:
    name = path.name
    return not (name.startswith(".") or name.startswith("_") or name.endswith(".crc")
                or name.lower() in ("readme", "readme.md", "readme.txt", "manifest"))


def discover(paths: Paths) -> Channel:
    """Resolve the training channel and list its data files (sorted, recursive)."""
    config = input_data_config(paths)
    name = _pick_channel(paths, config)
    mode = str((config.get(name) or {}).get("TrainingInputMode", "File"))
    if mode == "Pipe":
        fifos = sorted((p for p in paths.data_dir.glob(f"{name}_*") if p.name.rsplit("_", 1)[1].isdigit()),
                       key=lambda p: int(p.name.rsplit("_", 1)[1]))
        if not fifos:
            raise UserError(f"channel '{name}' uses Pipe mode but no {name}_<epoch> pipe exists under "
                            f"{paths.data_dir}; set TrainingInputMode to File (or FastFile) for this channel")
        log.info("channel %s: Pipe mode, reading %s", name, fifos[0])
        return Channel(name, mode, (fifos[0],))
    root = paths.channel_dir(name)
    if not root.is_dir():
        raise UserError(f"training channel '{name}' has no data: {root} does not exist "
                        f"(give the training job an input channel named '{name}')")
    files = tuple(sorted(p for p in root.rglob("*")
                         if p.is_file() and _is_data_file(p)
                         and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts[:-1])))
    if not files:
        raise UserError(f"training channel '{name}' at {root} holds no data files")
    log.info("channel %s (%s mode): %d file(s)", name, mode, len(files))
    return Channel(name, mode, files)


def auxiliary_files(paths: Paths, name: str) -> tuple[Path, ...]:
    """The data files of an optional channel (`catalog`): none when it is absent. Pipe mode is not
    supported for it (a small channel: use File or FastFile)."""
    config = input_data_config(paths)
    mode = str((config.get(name) or {}).get("TrainingInputMode", "File"))
    root = paths.channel_dir(name)
    if mode == "Pipe":
        raise UserError(f"channel '{name}' uses Pipe mode; give it TrainingInputMode File or FastFile")
    if not root.is_dir():
        if name in config:
            raise UserError(f"channel '{name}' is configured but {root} does not exist")
        return ()
    files = tuple(sorted(p for p in root.rglob("*") if p.is_file() and _is_data_file(p)
                         and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts[:-1])))
    if not files and name in config:
        raise UserError(f"channel '{name}' at {root} holds no data files")
    if files:
        log.info("channel %s (%s mode): %d file(s)", name, mode, len(files))
    return files


def fetch_uri(spark, uri: str, hp: dict, target_dir: Path) -> Path:
    """Read `uri` with Spark (any filesystem it knows) and land it on the driver as one Parquet file
    of string columns, which the normal reader then detects, parses and cleans like a channel file.

    Parquet when the URI ends in .parquet (or names a Parquet folder), otherwise CSV with a header row.
    """
    from pyspark.sql.utils import AnalysisException

    is_parquet = uri.rstrip("/").endswith(".parquet")
    try:
        if is_parquet:
            frame = spark.read.parquet(uri)
        else:
            frame = (spark.read.option("header", True).option("sep", hp.get("delimiter") or ",")
                     .option("inferSchema", False).csv(uri))
        frame = frame.select([frame[c].cast("string").alias(c) for c in frame.columns])
        table = frame.toPandas()
    except AnalysisException as exc:
        raise UserError(f"input_uri {uri!r} cannot be read: {str(exc).splitlines()[0]}") from None
    if table.empty:
        raise UserError(f"input_uri {uri!r} holds no rows")
    target = target_dir / "input.parquet"
    table.to_parquet(target, index=False)
    log.info("input_uri %s: %d rows, columns %s", uri, len(table), list(table.columns))
    return target
