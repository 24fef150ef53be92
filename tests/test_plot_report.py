"""``aimarket plot`` and ``aimarket report`` on any sweep (the smoke sweep of experiments/examples/):
files written, and the data drawn equal to the stored results it came from, recomputed here from the
run files alone; overview.png's lab legend with many labs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from aimarket import experiments
from aimarket.experiments.cli import main

SMOKE = Path(__file__).resolve().parents[1] / "experiments" / "examples" / "smoke.toml"


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke") / "smoke"
    report = experiments.sweep(SMOKE, out, workers=0, progress=False)
    assert report.complete
    return out


def _stored(out: Path, table: str) -> pd.DataFrame:
    """Every finished run's table joined to its design row, read straight from the run folders."""
    design = pq.read_table(out / "design.parquet").to_pandas()
    frames = []
    for folder in sorted((out / "runs").glob("run_id=*")):
        run_id = int(folder.name.split("=")[1])
        if table == "summary":
            frame = pd.DataFrame([json.loads((folder / "summary.json").read_text())])
        else:
            frame = pq.read_table(folder / f"{table}.parquet").to_pandas()
        frames.append(frame.assign(run_id=run_id))
    return pd.concat(frames, ignore_index=True).merge(design, on="run_id")


def _band(df: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    rows = []
    for group, d in df.dropna(subset=[value]).groupby(keys, sort=True):
        v = d[value].to_numpy(dtype=float)
        rows.append({**dict(zip(keys, group, strict=True)), "mean": v.mean(), "lo": np.quantile(v, 0.05),
                     "hi": np.quantile(v, 0.95), "n": len(v)})
    return pd.DataFrame(rows)


def _assert_equal(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    assert list(actual.columns) == [*keys, "mean", "lo", "hi", "n"]
    assert len(actual) == len(expected) > 0
    merged = actual.merge(expected, on=keys, suffixes=("", "_stored"))
    assert len(merged) == len(expected)
    for column in ("mean", "lo", "hi", "n"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_stored"], rtol=1e-12, atol=1e-15)


def test_plot_of_a_timeseries_output_over_time_by_factor(smoke, tmp_path, capsys):
    out = tmp_path / "figs" / "hhi.pdf"
    assert main(["plot", str(smoke), "--y", "hhi", "--x", "year", "--by", "users.switching_cost",
                 "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF") and str(out.with_suffix(".csv")) in capsys.readouterr().out
    drawn = pd.read_csv(out.with_suffix(".csv"))
    expected = _band(_stored(smoke, "timeseries"), ["users.switching_cost", "year"], "hhi")
    _assert_equal(drawn, expected, ["users.switching_cost", "year"])
    assert (drawn["n"] == 4).all()  # 2 replications x 2 levels of the pooled users.value_sigma


def test_plot_of_a_summary_output_against_a_factor(smoke, tmp_path):
    from aimarket.experiments.analysis.plot import plot_output

    assert main(["plot", str(smoke), "--y", "final_hhi", "--x", "users.value_sigma", "--by",
                 "users.switching_cost"]) == 0
    written = smoke / "plots" / "final_hhi_vs_users.value_sigma_by_users.switching_cost.png"
    assert written.read_bytes().startswith(b"\x89PNG")
    keys = ["users.switching_cost", "users.value_sigma"]
    drawn = pd.read_csv(written.with_suffix(".csv"))
    _assert_equal(drawn[[*keys, "mean", "lo", "hi", "n"]], _band(_stored(smoke, "summary"), keys, "final_hhi"), keys)
    figure = plot_output(smoke, "final_hhi", "users.value_sigma", ["users.switching_cost"])
    labels = figure.fig.axes[0].get_legend_handles_labels()[1]
    assert labels == ["users.switching_cost 0 (n = 2)", "users.switching_cost 0.1 (n = 2)"]
    figure.close()


def test_plot_of_a_timeseries_output_against_a_factor_uses_each_runs_last_year(smoke, tmp_path):
    out = tmp_path / "k.png"
    assert main(["plot", str(smoke), "--y", "k_reasoning", "--x", "users.switching_cost", "--out", str(out)]) == 0
    ts = _stored(smoke, "timeseries")
    last_year = ts[ts["step"] > ts.groupby("run_id")["step"].transform("max") - 4]
    per_run = last_year.groupby(["run_id", "users.switching_cost"])["k_reasoning"].mean().reset_index()
    _assert_equal(pd.read_csv(out.with_suffix(".csv")), _band(per_run, ["users.switching_cost"], "k_reasoning"),
                  ["users.switching_cost"])


@pytest.mark.parametrize("args, message", [
    (["--y", "nope"], "--y nope: not an output of this sweep"),
    (["--y", "final_hhi", "--x", "year"], "--x year: final_hhi is a summary output"),
    (["--y", "hhi", "--by", "users.count"], "--by users.count: not a factor of this sweep"),
    (["--y", "hhi", "--out", "x.gif"], "--out x.gif: give a .png, .pdf or .svg file name"),
])
def test_plot_rejects_bad_input_with_one_line(smoke, args, message, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert main(["plot", str(smoke), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("aimarket: error:") and message in err and err.count("\n") == 1


def test_report_on_any_sweep(smoke, tmp_path):
    out = tmp_path / "report.html"
    assert main(["report", str(smoke), "--out", str(out), "--dpi", "50"]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Quick size: do not quote" in page
    listed = ["hhi", "n_labs", "final_hhi", "mean_inference_share"]  # report.outputs of smoke.toml
    for y in listed:
        assert f"id='smoke-{y}'" in page
    assert page.count("data:image/png;base64,") == len(listed)
    assert "src='http" not in page and "href='http" not in page
    summary = _stored(smoke, "summary")
    for y in ("final_hhi", "mean_inference_share"):
        table = pd.read_csv(tmp_path / "tables" / f"smoke-{y}.csv")
        assert list(table["n"]) == [2, 2, 2, 2]
        expected = summary.groupby(["users.switching_cost", "users.value_sigma"])[y].mean().to_numpy()
        np.testing.assert_allclose(table["mean"], expected, rtol=1e-12)
        tex = (tmp_path / "tables" / f"smoke-{y}.tex").read_text()
        assert "\\toprule" in tex and "\\bottomrule" in tex and "users.switching\\_cost 0.1" in tex
    ts = _stored(smoke, "timeseries")
    last = ts[ts["step"] > ts.groupby("run_id")["step"].transform("max") - 4]
    expected = last.groupby(["run_id", "users.switching_cost", "users.value_sigma"])["hhi"].mean()
    expected = expected.groupby(["users.switching_cost", "users.value_sigma"]).mean().to_numpy()
    np.testing.assert_allclose(pd.read_csv(tmp_path / "tables" / "smoke-hhi.csv")["mean"], expected, rtol=1e-12)


def test_report_of_a_sweep_without_a_list_uses_the_default_outputs(smoke, tmp_path):
    from aimarket.experiments.analysis.report_generic import DEFAULT_OUTPUTS

    manifest = json.loads((smoke / "manifest.json").read_text())
    manifest["experiment"]["report"] = {"outputs": []}
    copy = tmp_path / "mine"
    copy.mkdir()
    for name in ("design.parquet", "runs"):
        (copy / name).symlink_to(smoke / name)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    from aimarket.experiments.questions.report import write_report

    page = Path(write_report(copy, dpi=40)).read_text(encoding="utf-8")
    assert all(f"id='mine-{y}'" in page for y in DEFAULT_OUTPUTS["timeseries"])


def test_overview_names_the_largest_labs_and_groups_the_rest():
    from aimarket.simulation.overview import NAMED_LABS, revenue_shares

    names = [f"Lab ${i}$" for i in range(15)]
    labs = {"step": [], "lab": [], "name": [], "lab_revenue": []}
    for step in range(3):
        for i, name in enumerate(names):
            for _task in range(2):  # lab-level revenue repeats on each of a lab's rows
                labs["step"].append(step)
                labs["lab"].append(i)
                labs["name"].append(name)
                labs["lab_revenue"].append(float(i + 1))
    shares = revenue_shares(labs, np.arange(3))
    assert len(shares) == NAMED_LABS + 1 and list(shares)[0] == "Lab $14$"
    assert list(shares)[-1] == f"other labs ({15 - NAMED_LABS})"
    np.testing.assert_allclose(np.sum(list(shares.values()), axis=0), 1.0)
    total = sum(range(1, 16))
    assert shares["Lab $14$"][0] == pytest.approx(15 / total)
    assert math.isclose(shares[f"other labs ({15 - NAMED_LABS})"][0], sum(range(1, 16 - NAMED_LABS)) / total)


def test_overview_draws_lab_names_as_plain_text(tmp_path):
    import dataclasses

    import pyarrow as pa

    from aimarket.simulation.overview import draw_overview
    from aimarket.simulation.run import simulate
    from aimarket.simulation.scenario.loading import load_scenario

    result = simulate(load_scenario(None, {"users.count": 60}), steps=2)
    names = [r"Lab $\oops$" if n == "OpenAI" else n for n in result.labs.column("name").to_pylist()]
    labs = result.labs.set_column(result.labs.schema.get_field_index("name"), "name", pa.array(names))
    path = tmp_path / "overview.png"
    draw_overview(dataclasses.replace(result, labs=labs), path)  # as mathtext, \oops would not parse
    assert path.read_bytes().startswith(b"\x89PNG")
