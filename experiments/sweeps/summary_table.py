"""``DIR/summary.parquet``: one analysis-ready row per finished run of a sweep.

Columns, in this order:

- ``run_id``, ``point``, ``replication`` (int64), from ``design.parquet``;
- one column per factor, named ``factor__`` + its dotted scenario key with ``.`` written ``__``
  (``users.switching_cost`` -> ``factor__users__switching_cost``), typed as in ``design.parquet``;
- ``seed`` (int64), the run's seed;
- every scalar field of the run's ``summary.json`` (the resolved scenario, the models list and the
  repeated seed left out); a field inside an object is named by its path joined with ``__``
  (``human_level_year.chat`` -> ``human_level_year__chat``), and any ``.`` in a name is written ``__``.

Types are fixed per column over the whole sweep, never per row: integers (nullable) are int64, a
column with any non-integral number is float64, true/false is bool, text is string, and a column that
is null in every run is float64. Undefined values stay null (see docs/outputs.md). Rows are in
``run_id`` order and hold the finished runs only (``design.parquet`` lists every run and the manifest
the failed ones). The file is rewritten at the end of every sweep session that is not interrupted and
by ``aimarket sweep --check DIR --rebuild-summary``; pandas, polars and DuckDB read it directly.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from aimarket.experiments.sweeps import store

SUMMARY_TABLE = "summary.parquet"
FACTOR_PREFIX = "factor__"
_DESIGN_COLUMNS = ("run_id", "point", "replication", "seed")
_SKIPPED_FIELDS = ("seed",)  # the design's seed column is the run's seed


def column_name(key: str, prefix: str = "") -> str:
    """A column name without dots: ``prefix`` + ``key`` with every ``.`` written ``__``."""
    return prefix + key.replace(".", "__")


def _arrow_type(values: list[Any]) -> pa.DataType:
    present = [v for v in values if v is not None]
    if not present:
        return pa.float64()
    if all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pa.float64()
    return pa.string()


def _column(values: list[Any]) -> pa.Array:
    typ = _arrow_type(values)
    if typ == pa.string():
        values = [v if v is None or isinstance(v, str) else json.dumps(v) for v in values]
    elif typ == pa.float64():
        values = [None if v is None else float(v) for v in values]
    return pa.array(values, typ)


def build(out: str | Path) -> pa.Table:
    """The summary table of the sweep folder ``out`` (finished runs only)."""
    out = Path(out)
    design = pq.read_table(out / store.DESIGN)
    done = store.completed_runs(out)
    run_ids = design.column("run_id").to_pylist()
    keep = [i for i, rid in enumerate(run_ids) if rid in done]
    design = design.take(pa.array(keep, pa.int64()))
    columns: dict[str, pa.Array] = {}
    for name in design.column_names:
        column = design.column(name).combine_chunks()
        columns[name if name in _DESIGN_COLUMNS else column_name(name, FACTOR_PREFIX)] = column
    rows = [_summary_row(out, rid) for rid in design.column("run_id").to_pylist()]
    fields: dict[str, None] = {}
    for row in rows:
        fields.update(dict.fromkeys(row))
    for name in fields:
        if name in columns:
            continue  # a summary field can never shadow a design column
        columns[name] = _column([row.get(name) for row in rows])
    return pa.table(columns)


def _summary_row(out: Path, run_id: int) -> dict[str, Any]:
    flat = store._flatten_summary(store.read_summary(out, run_id))
    return {column_name(k): v for k, v in flat.items() if k not in _SKIPPED_FIELDS}


def write(out: str | Path) -> Path:
    """Build and write ``out/summary.parquet`` atomically (same runs, same bytes)."""
    path = Path(out) / SUMMARY_TABLE
    store.atomic_write(path, store.parquet_bytes(build(out)))
    return path
