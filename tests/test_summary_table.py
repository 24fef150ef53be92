"""summary.parquet: one row per finished run, fixed dtypes, no dotted names, readable by pandas,
polars and DuckDB; `aimarket sweep --check DIR --rebuild-summary`."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sweep_helpers import GRID, write_experiment

from aimarket import experiments
from aimarket.experiments.cli import main
from aimarket.experiments.sweeps import summary_table


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    folder = tmp_path_factory.mktemp("summary")
    exp = write_experiment(folder, GRID)
    out = folder / "out"
    experiments.sweep(exp, out, workers=0, progress=False)
    return exp, out


def test_one_row_per_run_with_design_and_every_scalar_field(swept):
    _, out = swept
    table = pq.read_table(out / "summary.parquet")
    assert table.column_names[:6] == [
        "run_id", "point", "replication", "factor__users__switching_cost", "factor__users__value_sigma", "seed",
    ]  # fmt: skip
    assert not [name for name in table.column_names if "." in name]
    assert table.column("run_id").to_pylist() == list(range(8))
    design = pq.read_table(out / "design.parquet")
    assert table.column("seed").to_pylist() == design.column("seed").to_pylist()
    for name in ("run_id", "point", "replication", "seed", "final_n_labs", "steps"):
        assert table.schema.field(name).type == pa.int64(), name
    for run_id in (0, 5):
        summary = json.loads((out / "runs" / f"run_id={run_id:05d}" / "summary.json").read_text())
        row = table.slice(run_id, 1).to_pylist()[0]
        assert row["final_hhi"] == summary["final_hhi"]
        assert row["human_level_year__chat"] == summary["human_level_year"]["chat"]
        assert row["scenario_hash"] == summary["scenario_hash"]
        scalars = [k for k, v in summary.items() if not isinstance(v, dict | list) and k != "seed"]
        assert set(scalars) <= set(table.column_names)
    assert "models" not in table.column_names and "scenario" not in table.column_names


def test_pandas_polars_and_duckdb_read_it_directly(swept):
    import duckdb
    import pandas as pd
    import polars as pl

    _, out = swept
    path = str(out / "summary.parquet")
    df = pd.read_parquet(path)
    assert df["run_id"].dtype == "int64" and len(df) == 8
    frame = pl.read_parquet(path)
    assert frame.schema["run_id"] == pl.Int64 and frame.height == 8
    rows = duckdb.sql(
        f"SELECT factor__users__switching_cost AS cost, count(*) AS n, avg(final_hhi) AS hhi "
        f"FROM read_parquet('{path}') GROUP BY cost ORDER BY cost"
    ).fetchall()
    assert [(cost, n) for cost, n, _ in rows] == [(0.0, 4), (0.1, 4)]
    assert rows[0][2] == pytest.approx(df[df["factor__users__switching_cost"] == 0.0]["final_hhi"].mean())


def test_column_types_are_fixed_per_column_not_per_row():
    assert summary_table._column([1, None, 3]).type == pa.int64()  # nullable integers stay integers
    assert summary_table._column([1, 2.5, None]).type == pa.float64()
    assert summary_table._column([None, None]).type == pa.float64()
    assert summary_table._column([True, None]).type == pa.bool_()
    assert summary_table._column(["a", None]).type == pa.string()
    assert summary_table._column(["a", 1]).to_pylist() == ["a", "1"]
    assert summary_table.column_name("users.count", "factor__") == "factor__users__count"


def test_failed_runs_have_no_row(tmp_path):
    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "out"
    report = experiments.sweep(exp, out, workers=0, progress=False, run_fn="sweep_helpers:failing_simulate")
    assert len(report.failed) == 4
    table = pq.read_table(out / "summary.parquet")
    assert table.num_rows == 4 and set(table.column("factor__users__switching_cost").to_pylist()) == {0.0}


def test_check_and_rebuild_summary(swept, tmp_path, capsys):
    _, out = swept
    before = (out / "summary.parquet").read_bytes()
    (out / "summary.parquet").unlink()
    assert main(["sweep", "--check", str(out), "--rebuild-summary"]) == 0
    assert (out / "summary.parquet").read_bytes() == before  # same runs, same bytes
    report = capsys.readouterr().out
    assert "8/8 runs done" in report and "wrote summary.parquet" in report

    assert main(["sweep", "--check", str(tmp_path)]) == 2
    assert "not a sweep folder" in capsys.readouterr().err
    assert main(["sweep", "--rebuild-summary", str(out)]) == 2
    assert "only with --check" in capsys.readouterr().err
    assert main(["sweep", str(out)]) == 2
    assert "--out: required" in capsys.readouterr().err


def test_check_reports_a_damaged_run(tmp_path, capsys):
    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "out"
    experiments.sweep(exp, out, workers=0, progress=False)
    (out / "runs" / "run_id=00003" / "timeseries.parquet").unlink()
    before = (out / "summary.parquet").read_bytes()
    assert main(["sweep", "--check", str(out), "--rebuild-summary"]) == 1
    report = capsys.readouterr().out
    assert "1 damaged" in report and "run_id=00003 (timeseries.parquet is missing)" in report
    assert "summary.parquet not rewritten: 1 damaged run folder(s)" in report
    assert (out / "summary.parquet").read_bytes() == before
