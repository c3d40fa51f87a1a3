"""Regenerate the hyperparameter table in docs/hyperparameters.md and als_spec.json from the schema.

    python scripts/update_readme_table.py
"""
import json
import re
from pathlib import Path

from alsreco.core import hyperparameters

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    readme = ROOT / "docs" / "hyperparameters.md"
    text = readme.read_text()
    table = "<!-- hyperparameters:begin -->\n" + hyperparameters.markdown_table() + "\n<!-- hyperparameters:end -->"
    text = re.sub(r"<!-- hyperparameters:begin -->\n.*?<!-- hyperparameters:end -->", lambda _: table, text,
                  flags=re.S)
    readme.write_text(text)
    (ROOT / "als_spec.json").write_text(json.dumps(hyperparameters.defaults(), indent=2) + "\n")


if __name__ == "__main__":
    main()
