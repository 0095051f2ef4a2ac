"""Tables for people: human column names with units, a dash for an empty cell, numbers rounded.

:func:`table_html` turns rows (a DataFrame, a list of dicts, or a list of tuples with
``columns``) into an HTML table for a book page. Column keys the package uses
(``val_rms_ratio_db_mean``, ``model.residual``, ``level_db``, ...) get the names in
:data:`COLUMN_NAMES` (a ``_mean`` / ``_std`` suffix reads "mean" / "sd"); a caller's ``columns``
mapping overrides them. An empty cell (``None``, NaN, ``""``) reads as a dash, never ``NaN``.
The HTML sits in a ``div.resmix-table`` that the book's CSS lets scroll sideways, with the row
headers held in place.
"""
from __future__ import annotations

import html
import math
from typing import Any, Mapping, Sequence

#: What an empty cell reads as (an en dash).
DASH = "\u2013"

#: Human names, with units, of the column keys the package uses.
COLUMN_NAMES = {
    # held-out measurements (resmix.measure.readout), one per key of History.records without the "val_" prefix
    "rms_ratio_db": "output level re target (dB)", "corr_target": "correlation with target",
    "abs_corr_target": "|correlation| with target, per clip",
    "pred_abs_corr_target": "|correlation| predicted for an independent output",
    "lag_corr_target": "best |corr| with target within ±10 ms", "lag_corr_chance": "same, against other clips (chance)",
    "lag_corr_target_lag": "lag of the best |corr| (samples)", "probe_a": "probe weight a (input)",
    "probe_b": "probe weight b (target)", "probe_r2": "probe R²", "common_share": "common share",
    "swap_input": "change when inputs are swapped", "swap_target": "change when targets are swapped",
    "loss_reconstruction": "held-out reconstruction loss", "rms_output": "output RMS", "lsd": "log-spectral distance (dB)",
    "ac_fraction": "std / RMS",
    # settings of an Experiment (resmix.config), as study.summarise names them
    "model.residual": "residual", "model.input_scale": "input scale", "model.zero_init_output": "zero-initialised output",
    "model.output_scale": "frozen output gain", "model.output_gain": "initial output gain",
    "loss.recon_kind": "reconstruction", "loss.reconstruction": "reconstruction weight",
    "loss.recon_reference": "reconstruction reference", "loss.eps": "ε", "loss.corr_axes": "correlation over",
    "loss.variance": "variance hinge weight", "train.lr": "learning rate", "train.weight_decay": "weight decay",
    "train.decay": "decay applied to", "train.seed": "model seed", "data.seed": "data seed",
    # protocol rows (resmix.registrations.first.c7_rows, c8_rows)
    "level_db": "final level re target (dB)", "difference_db": "paired difference (dB)", "low": "95% CI low (dB)",
    "high": "95% CI high (dB)", "reading": "reading of the difference",
}
SUFFIXES = {"_mean": "mean", "_std": "sd"}


def human_name(key: str, columns: Mapping[str, str] | None = None) -> str:
    """The name a reader sees for a column key: ``columns``, then :data:`COLUMN_NAMES`, then the key in words."""
    if columns and key in columns:
        return columns[key]
    key = str(key)
    for suffix, word in SUFFIXES.items():
        if key.endswith(suffix):
            return f"{human_name(key[:-len(suffix)], columns)}, {word}"
    base = key[4:] if key.startswith("val_") else key
    return COLUMN_NAMES.get(key, COLUMN_NAMES.get(base, base.replace("_", " ")))


def is_empty(value: Any) -> bool:
    """None, NaN, NaT/NA (pandas) and blank strings are empty cells."""
    if value is None or (isinstance(value, str) and not value.strip()) or type(value).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)  # NaN, and pandas' NA/NaT compare unequal to themselves
    except (TypeError, ValueError):
        return False


def format_cell(value: Any, digits: int = 3) -> str:
    """A cell as text: a dash when empty, ``digits`` decimals for floats (scientific below 10^-digits), yes/no for bools."""
    if is_empty(value):
        return DASH
    if isinstance(value, bool) or _kind(value) == "b":
        return "yes" if value else "no"
    if isinstance(value, int) or _kind(value) in ("i", "u"):
        return str(int(value))
    if isinstance(value, float) or _kind(value) == "f":
        v = float(value)
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        if v != 0 and (abs(v) < 10 ** -digits or abs(v) >= 1e6):
            return f"{v:.{max(digits - 1, 1)}e}"
        return f"{v:.{digits}f}"
    return str(value)


def _kind(value: Any) -> str:
    """NumPy's dtype kind of a scalar ("i", "u", "f", "b", ...), "" for a plain Python value."""
    return getattr(getattr(value, "dtype", None), "kind", "")


def _rows(rows, columns: Sequence[str] | None) -> tuple[list[str], list[str], list[list[Any]]]:
    """(index keys, column keys, rows of values) from a DataFrame, a list of dicts or a list of sequences."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a pandas DataFrame: its index becomes row headers
        df = rows
        names = [n for n in df.index.names if n is not None]
        if names:
            df = df.reset_index()
        keys = [" ".join(map(str, c)) if isinstance(c, tuple) else c for c in df.columns]
        return names, keys, df.values.tolist()
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        keys = list(columns or dict.fromkeys(k for r in rows for k in r))
        return [], keys, [[r.get(k) for k in keys] for r in rows]
    if columns is None:
        raise ValueError("rows given as sequences need `columns`, their keys in order; got none")
    return [], list(columns), [list(r) for r in rows]


def table_html(rows, columns: Mapping[str, str] | Sequence[str] | None = None, digits: int | Mapping[str, int] = 3,
               index: str | Sequence[str] | None = None, caption: str | None = None):
    """Rows as an HTML table for a page (an ``IPython.display.HTML``).

    Args:
        rows: a DataFrame (its named index becomes the row headers), a list of dicts, or a
            list of sequences (then ``columns`` gives their keys in order).
        columns: ``{key: "Human name (unit)"}`` for names beyond :data:`COLUMN_NAMES`; a
            mapping also fixes the order of dict rows when it lists every key. A sequence is
            the keys in order.
        digits: decimals for floats, one for all or ``{key: digits}`` (others keep 3).
        index: the key(s) whose cells are row headers (default: a DataFrame's named index,
            else none).
        caption: a line above the table.
    """
    from IPython.display import HTML
    if not hasattr(rows, "columns"):
        rows = list(rows)
    names = columns if isinstance(columns, Mapping) else {}
    if columns is None or (isinstance(columns, Mapping) and not _orders(rows, columns)):
        order = None  # the rows' own order of keys
    else:
        order = list(columns)
    index_keys, keys, values = _rows(rows, order)
    if index is not None:
        index_keys = [index] if isinstance(index, str) else list(index)
        missing = [k for k in index_keys if k not in keys]
        if missing:
            raise ValueError(f"index keys {missing} are not columns of the rows; columns: {keys}")
    digit = (lambda k: digits.get(k, 3)) if isinstance(digits, Mapping) else (lambda k: digits)
    head = "".join(f'<th scope="col">{html.escape(human_name(k, names))}</th>' for k in keys)
    body = []
    for row in values:
        cells = []
        for k, v in zip(keys, row):
            text = html.escape(format_cell(v, digit(k)))
            numeric = not is_empty(v) and (isinstance(v, (int, float)) or _kind(v) in ("i", "u", "f"))
            if k in index_keys:
                cells.append(f'<th scope="row">{text}</th>')
            else:
                cells.append(f'<td class="num">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return HTML(f'<div class="resmix-table"><table>{cap}<thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table></div>')


def _orders(rows, columns: Mapping[str, str]) -> bool:
    """Whether a ``columns`` mapping also gives the keys' order: for sequence rows, or dict rows whose every key it names."""
    if hasattr(rows, "columns"):
        return False
    rows = list(rows)
    if rows and isinstance(rows[0], Mapping):
        return set(columns) >= {k for r in rows for k in r}
    return bool(rows)
