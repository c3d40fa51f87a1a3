import json
import re

import pytest

from alsreco.core import hyperparameters as h
from alsreco.core.errors import UserError
from alsreco.core.paths import Paths

from ..conftest import REPO


@pytest.mark.parametrize("raw, expected", [
    ("10", 10), ('"10"', 10), (" 10 ", 10), ("10.0", 10), (10, 10), ('"\\"10\\""', 10),
])
def test_int_encodings(raw, expected):
    assert h.merge([("hp", {"als_rank": raw})])["als_rank"] == expected


@pytest.mark.parametrize("raw, expected", [
    ("True", True), ("true", True), ('"true"', True), ("1", True), ("False", False), ("false", False),
    (False, False), ("0", False),
])
def test_bool_encodings(raw, expected):
    assert h.merge([("hp", {"implicit_prefs": raw})])["implicit_prefs"] is expected


def test_float_list_date_and_alias():
    hp = h.merge([("hp", {"reg_param": "0.01", "non_product_codes": "[1, 2]", "max_iter": "5",
                          "retention_date": '"20101209"', "delimiter": "tab"})])
    assert hp["reg_param"] == pytest.approx(0.01)
    assert hp["non_product_codes"] == ["1", "2"]
    assert hp["max_itter"] == 5
    assert hp["retention_date"] == "20101209"
    assert hp["delimiter"] == "\t"
    assert h.merge([("hp", {"non_product_codes": "POST, DOT"})])["non_product_codes"] == ["POST", "DOT"]


def test_sagemaker_keys_are_ignored():
    hp = h.merge([("hp", {"_tuning_objective_metric": "x", "sagemaker_program": "y",
                          "sagemaker_submit_directory": "z"})])
    assert hp == h.defaults()


@pytest.mark.parametrize("key, raw, fragment", [
    ("als_rank", "0", "[1, 1000]"),
    ("als_rank", "1.5", "integer"),
    ("als_rank", "ten", "integer"),
    ("implicit_prefs", "maybe", "true or false"),
    ("reg_param", "-1", "out of range"),
    ("ranking_type", "best", "one of incident"),
    ("retention_date", "2010-13-45", "YYYYMMDD"),
    ("non_product_codes", "[1, [2]]", "list of strings"),
    ("alpha", "nan", "number"),
])
def test_invalid_values_name_key_value_and_allowed(key, raw, fragment):
    with pytest.raises(UserError) as err:
        h.merge([("hyperparameters.json", {key: raw})])
    msg = str(err.value)
    assert key in msg and repr(raw) in msg and fragment in msg and "hyperparameters.json" in msg


def test_unknown_key_is_rejected_with_the_known_ones():
    with pytest.raises(UserError, match=r"unknown hyperparameter 'als_rnak'.*als_rank"):
        h.merge([("hp", {"als_rnak": "3"})])


def test_layers_precedence(tmp_path):
    paths = Paths(tmp_path)
    paths.config_dir.mkdir(parents=True)
    shipped = tmp_path / "shipped.json"
    shipped.write_text(json.dumps({"als_rank": 5, "alpha": 2.0, "seed": 7}))
    paths.user_spec_file.write_text(json.dumps({"als_rank": 6, "alpha": "3"}))
    paths.hyperparameters_file.write_text(json.dumps({"als_rank": "8"}))
    hp = h.load(paths, shipped=shipped)
    assert (hp["als_rank"], hp["alpha"], hp["seed"], hp["max_itter"]) == (8, 3.0, 7, h.defaults()["max_itter"])


def test_bad_json_file_is_a_user_error(tmp_path):
    paths = Paths(tmp_path)
    paths.config_dir.mkdir(parents=True)
    paths.hyperparameters_file.write_text("{not json")
    with pytest.raises(UserError, match="hyperparameters.json is not valid JSON"):
        h.load(paths, shipped=tmp_path / "none.json")


def test_shipped_spec_matches_schema_defaults():
    shipped = json.loads((REPO / "als_spec.json").read_text())
    assert shipped == json.loads(json.dumps(h.defaults()))
    assert h.source_spec_file() == REPO / "als_spec.json"
    assert h.load(Paths(REPO / "no-such-dir")) == h.defaults()
    assert h.load(Paths(REPO / "no-such-dir"), shipped=REPO / "als_spec.json") == h.defaults()


def test_docs_table_is_generated_from_the_schema():
    readme = (REPO / "docs" / "hyperparameters.md").read_text()
    m = re.search(r"<!-- hyperparameters:begin -->\n(.*?)\n<!-- hyperparameters:end -->", readme, re.S)
    assert m, "docs/hyperparameters.md lacks the generated hyperparameter table markers"
    assert m.group(1).strip() == h.markdown_table().strip(), "regenerate with `make readme-table`"


def test_every_default_is_valid_under_its_own_schema():
    for p in h.SCHEMA:
        assert h.coerce(p, json.dumps(p.default) if p.type == "list" else str(p.default), "defaults") == \
            (p.default if p.name != "delimiter" else "")
