"""resmix.book.tables: human column names, a dash for empty cells, rounding, row headers."""
import html
import math
import re

import numpy as np
import pandas as pd
import pytest

from resmix.book import tables
from resmix.book.claims import CLAIM_COLUMNS, Claim, claims_html, setup_html
from resmix.config import quick


def cells(table) -> list[list[str]]:
    page = table.data
    return [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", page)]


@pytest.mark.parametrize("key, name", [
    ("val_rms_ratio_db_mean", "output level re target (dB), mean"), ("val_corr_target_std", "correlation with target, sd"),
    ("model.residual", "residual"), ("train.lr", "learning rate"), ("level_db", "final level re target (dB)"),
    ("some_new_key", "some new key"),
])
def test_human_names(key, name):
    assert tables.human_name(key) == name


def test_the_callers_names_win():
    assert tables.human_name("level_db", {"level_db": "end level (dB)"}) == "end level (dB)"


@pytest.mark.parametrize("value, text", [
    (None, "–"), (float("nan"), "–"), (np.float64("nan"), "–"), (pd.NA, "–"), ("", "–"), ("  ", "–"),
    (0.12345, "0.123"), (np.float32(2.5), "2.500"), (3, "3"), (np.int64(7), "7"), (True, "yes"), (np.bool_(False), "no"),
    (2.3e-5, "2.30e-05"), (0.0, "0.000"), (math.inf, "∞"), ("leaky", "leaky"),
])
def test_cells(value, text):
    assert tables.format_cell(value) == text


def test_a_dataframe_keeps_its_index_as_row_headers_and_shows_no_nan():
    df = pd.DataFrame({"model.residual": ["leaky", "none"], "val_corr_target_mean": [0.7071, np.nan]}).set_index("model.residual")
    t = tables.table_html(df, digits=2)
    rows = cells(t)
    assert rows[0] == ["residual", "correlation with target, mean"]
    assert rows[1:] == [["leaky", "0.71"], ["none", "–"]]
    assert '<th scope="row">leaky</th>' in t.data and "NaN" not in t.data and "nan" not in t.data


def test_protocol_rows_read_as_people_would():
    rows = [{"remedy": "none", "runs": 10, "level_db": -25.04, "difference_db": None, "low": None, "high": None,
             "reading": "baseline"},
            {"remedy": "mse 0.01", "runs": 10, "level_db": -24.6, "difference_db": 0.43, "low": -0.1, "high": 0.9,
             "reading": "within"}]
    t = tables.table_html(rows, digits={"level_db": 1}, index="remedy")
    head, base, mse = cells(t)
    assert head == ["remedy", "runs", "final level re target (dB)", "paired difference (dB)", "95% CI low (dB)",
                    "95% CI high (dB)", "reading of the difference"]
    assert base == ["none", "10", "-25.0", "–", "–", "–", "baseline"]
    assert mse[:4] == ["mse 0.01", "10", "-24.6", "0.430"]


def test_sequences_need_their_columns_and_index_must_be_a_column():
    assert cells(tables.table_html([("a", 1)], ["name", "n"]))[1] == ["a", "1"]
    with pytest.raises(ValueError, match="need `columns`"):
        tables.table_html([("a", 1)])
    with pytest.raises(ValueError, match=r"index keys \['x'\]"):
        tables.table_html([{"a": 1}], index="x")


def test_text_is_escaped():
    assert "&lt;b&gt;" in tables.table_html([{"a": "<b>"}]).data


def test_claims_and_setup_tables_use_human_names():
    t = claims_html([Claim("C1", "a claim", "50%", "0.5", "supported")])
    assert cells(t)[0] == [CLAIM_COLUMNS[k] for k in ("id", "claim", "seed_value", "measured", "verdict")]
    assert "seed_value" not in t.data and '<th scope="row">C1</th>' in t.data
    s = setup_html(quick())
    assert cells(s)[0] == ["", "setting", "reading of the seed / why"] and "optimizer" in s.data
