"""The SageMaker `/opt/ml` layout, rooted at an overridable base directory.

Every component receives a `Paths` object instead of hard-coding `/opt/ml`, so tests and
`make demo` run the real code against a temporary tree (`Settings.base_dir`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError


@dataclass(frozen=True)
class Paths:
    base: Path

    # --- input -------------------------------------------------------------
    @property
    def input_dir(self) -> Path:
        return self.base / "input"

    @property
    def config_dir(self) -> Path:
        return self.input_dir / "config"

    @property
    def data_dir(self) -> Path:
        return self.input_dir / "data"

    @property
    def hyperparameters_file(self) -> Path:
        return self.config_dir / "hyperparameters.json"

    @property
    def user_spec_file(self) -> Path:
        return self.config_dir / "als_spec.json"

    @property
    def inputdataconfig_file(self) -> Path:
        return self.config_dir / "inputdataconfig.json"

    @property
    def resourceconfig_file(self) -> Path:
        return self.config_dir / "resourceconfig.json"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    # --- outputs -----------------------------------------------------------
    @property
    def model_dir(self) -> Path:
        return self.base / "model"

    @property
    def output_dir(self) -> Path:
        return self.base / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def checkpoints_dir(self) -> Path:
        return self.base / "checkpoints"


def read_json_object(path: Path, missing: Any = None) -> Any:
    """A JSON object from one of the layout's config files; `missing` when the file is absent.
    Invalid JSON or another JSON type is a UserError naming the file."""
    path = Path(path)
    if not path.is_file():
        return missing
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except ValueError as exc:
        raise UserError(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise UserError(f"{path} is not valid JSON here: nested too deeply") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a JSON object, not {type(data).__name__}")
    return data
