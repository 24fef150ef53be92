"""The research questions end to end: experiment files, a quick sweep of every question, figures drawn
from the stored results (files written, data equal to an independent recomputation), the report.

The session fixture ``quick_results`` runs every question's quick size once (in this process, about
20 s on one core); tests/test_notebooks.py reuses it through the same module-level cache.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aimarket import experiments
from aimarket.experiments.questions import (
    EXPERIMENTS,
    QUESTIONS,
    SIZES,
    TEXTBOOK_CASES,
    experiment_file,
    find_sweeps,
    identify,
)
from aimarket.experiments.questions import paper_figures as F
from aimarket.simulation.errors import UserInputError

_CACHE: dict[str, Path] = {}


def run_quick_questions(tmp_path_factory) -> Path:
    """Every question's quick sweep, run once per test process into a temporary results root."""
    if "root" not in _CACHE:
        root = tmp_path_factory.mktemp("questions") / "quick"
        reports = experiments.questions.run("all", size="quick", out=root, workers=0, progress=False)
        assert all(r.complete and not r.failed for r in reports.values()), {n: r.line() for n, r in reports.items()}
        _CACHE["root"] = root
    return _CACHE["root"]


@pytest.fixture(scope="session")
def quick_results(tmp_path_factory) -> Path:
    return run_quick_questions(tmp_path_factory)


@pytest.fixture(scope="module")
def drawn(quick_results):
    """Every figure of every question, drawn once for this module."""
    out = {}
    for fns in F.FIGURES.values():
        for fn in fns:
            fig = fn(quick_results)
            out[fig.name] = fig
    yield out
    for fig in out.values():
        fig.close()


# ----------------------------------------------------------------------------- experiment files


@pytest.mark.parametrize("size", SIZES)
def test_every_question_has_valid_experiment_files(size):
    from aimarket.experiments.sweeps.session import prepare

    for q in QUESTIONS.values():
        assert q.experiments
        for name in q.experiments:
            path = experiment_file(name, size)
            exp, base, runs, _, _ = prepare(path)  # format and scenario checks, as `aimarket sweep` does
            assert exp.outputs == ("timeseries", "summary")
            if name in TEXTBOOK_CASES:
                # Sutton's cases: 400 homogeneous users represent their market exactly; the scenario's tolerance
                assert base.users.count <= 1000 and len(runs) * (exp.steps or base.run.steps) <= 600 * (
                    1 if size == "quick" else 10), name
                assert exp.replications >= (2 if size == "quick" else 10), name
            elif size == "quick":
                # CI budget: a quick run is a small population, prices to a looser tolerance
                assert base.users.count <= 1000 and base.labs.br_tolerance >= 1e-6
                assert len(runs) * (exp.steps or base.run.steps) <= 600, name
            else:
                # quotable (the report marks fewer than 10 replications "quick size"); Q1 is sized by time
                assert exp.replications >= (10 if name.startswith("q1_") else 30), name
                assert base.users.count >= 5_000, name


def test_quick_and_paper_sizes_share_their_design_keys():
    from aimarket.experiments.sweeps.spec import read_experiment

    for name in EXPERIMENTS:
        quick, paper = (read_experiment(experiment_file(name, s)) for s in SIZES)
        assert quick.factor_keys == paper.factor_keys or set(quick.factor_keys) <= set(paper.factor_keys), name
        assert quick.root_seed == paper.root_seed
        size_keys = {"users.count", "labs.br_tolerance"}
        assert {k: v for k, v in quick.overrides.items() if k not in size_keys} == paper.overrides, name


def test_q1_robustness_files_sweep_the_paper_regimes():
    """The Morris files of Q1 (experiments/questions/robustness/) keep each paper regime's overrides but
    for the size keys and the factors they sample, and share one design across regimes; the larger-market
    files keep them all."""
    from aimarket.experiments.sweeps.session import prepare
    from aimarket.experiments.sweeps.spec import read_experiment

    folder = Path(experiment_file("q1_concentration_pretraining", "paper")).parent / "robustness"
    designs = {}
    for regime in ("pretraining", "inference"):
        morris_file = folder / f"q1_morris_{regime}.toml"
        morris = read_experiment(morris_file)
        paper = read_experiment(experiment_file(f"q1_concentration_{regime}", "paper"))
        assert morris.method == "morris"
        sampled = set(morris.factor_keys)
        assert {"demand.market_scale", "entry.cost", "entry.arrivals"} <= sampled
        size_keys = {"users.count", "labs.br_tolerance"}
        kept = {k: v for k, v in paper.overrides.items() if k not in sampled}
        assert {k: v for k, v in morris.overrides.items() if k not in size_keys} == kept, regime
        assert morris.steps == paper.steps
        _, _, runs, _, _ = prepare(morris_file)
        designs[regime] = [r.values for r in runs]
        large = read_experiment(folder / f"q1_large_market_{regime}.toml")  # the paper size at 10x
        assert large.overrides == paper.overrides and large.steps == paper.steps
        assert large.factor_keys == paper.factor_keys
    assert designs["pretraining"] == designs["inference"]


def test_q1_paper_runs_keep_their_seeds_when_larger_markets_are_appended(tmp_path):
    """The paper size can be extended on a cluster by appending market sizes: the runs it has keep their
    run ids, seeds and settings, so the committed per-run table (docs/results/) is reproduced by them."""
    from aimarket.experiments.sweeps.design import build_runs
    from aimarket.experiments.sweeps.spec import read_experiment

    for regime in ("pretraining", "inference"):
        path = experiment_file(f"q1_concentration_{regime}", "paper")
        text = path.read_text()
        levels = "[0.01, 0.1, 1.0]"
        assert levels in text
        extended = tmp_path / path.name
        extended.write_text(text.replace(levels, "[0.01, 0.1, 1.0, 10.0, 100.0]").replace(
            "../../scenarios/", f"{(path.parent.parent.parent / 'scenarios').as_posix()}/"))
        paper, more = build_runs(read_experiment(path)), build_runs(read_experiment(extended))
        assert len(more) == len(paper) + 20
        assert [(r.run_id, r.seed, r.values) for r in more[: len(paper)]] == [
            (r.run_id, r.seed, r.values) for r in paper]


def test_questions_registry_resolves_names():
    assert experiments.questions.get("3").id == "q3"
    assert experiments.questions.get("q1_concentration").id == "q1"
    assert [q.id for q in experiments.questions.select("all")] == ["q1", "q2", "q3", "q4", "q5", "q6"]
    with pytest.raises(UserInputError, match="unknown question 'q9'"):
        experiments.questions.get("q9")
    for q in QUESTIONS.values():
        assert (Path(__file__).parents[1] / "notebooks" / q.notebook).is_file()


# ----------------------------------------------------------------------------- the quick sweeps


def test_quick_sweeps_are_found_by_their_manifest(quick_results, tmp_path):
    found = find_sweeps(quick_results)
    assert set(found) == set(EXPERIMENTS)
    for name, folder in found.items():
        assert identify(folder) == (name, "quick")
        assert find_sweeps(folder) == {name: folder}  # a single sweep folder works too
    # a renamed folder is still recognised (by the experiment file in its manifest)
    (tmp_path / "renamed").symlink_to(found["q3_governance"], target_is_directory=True)
    assert set(find_sweeps(tmp_path)) == {"q3_governance"}


def test_resume_on_a_complete_sweep_runs_nothing(quick_results):
    folder = quick_results / "q4_open_weights"
    runs_before = sorted(p.name for p in (folder / "runs").iterdir())
    report = experiments.sweep(experiment_file("q4_open_weights", "quick"), folder, resume=True, progress=False)
    assert report.complete and report.done_now == 0 and report.done_before == report.n_runs
    assert sorted(p.name for p in (folder / "runs").iterdir()) == runs_before
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["sessions"][-1]["runs_to_do"] == 0 and manifest["status"] == "complete"


# ----------------------------------------------------------------------------- figures: files


def _png_dpi(path: Path) -> float:
    """Horizontal resolution stored in a PNG's pHYs chunk [dots per inch]."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    i = data.index(b"pHYs")
    ppm = int.from_bytes(data[i + 4 : i + 8], "big")
    return ppm * 0.0254


def test_figures_command_writes_every_file(quick_results, tmp_path):
    from aimarket.experiments.cli import main

    out = tmp_path / "figs"
    assert main(["figures", str(quick_results), "--out", str(out)]) == 0
    names = [fn.__name__ for fns in F.FIGURES.values() for fn in fns]
    assert len(names) == 8
    for name in names:
        pdf, png, csv = (out / f"{name}.{ext}" for ext in ("pdf", "png", "csv"))
        assert pdf.read_bytes()[:5] == b"%PDF-" and b"CreationDate" not in pdf.read_bytes()
        assert round(_png_dpi(png)) == 300
        assert not pd.read_csv(csv).empty
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_figures_command_on_one_sweep_folder_and_one_question(quick_results, tmp_path):
    from aimarket.experiments.cli import main

    out = tmp_path / "one"
    assert main(["figures", str(quick_results / "q6_energy"), "--out", str(out), "--format", "png"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["q6_energy.csv", "q6_energy.png"]
    out2 = tmp_path / "two"
    assert main(["figures", str(quick_results), "--out", str(out2), "--question", "q5", "--format", "pdf"]) == 0
    assert sorted(p.name for p in out2.iterdir()) == ["q5_ida.csv", "q5_ida.pdf"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["figures", "{missing}"], "not a folder"),
        (["figures", "{empty}"], "no results of the research questions"),
        (["figures", "{root}", "--format", "gif"], "--format"),
        (["figures", "{root}", "--question", "q7"], "unknown question"),
        (["report", "{empty}"], "no results of the research questions"),
        (["report", "{root}", "--dpi", "x"], "--dpi"),
    ],
)
def test_figures_and_report_reject_bad_input_with_one_line(args, message, quick_results, tmp_path, capsys):
    from aimarket.experiments.cli import main

    (tmp_path / "empty").mkdir()
    values = {"missing": tmp_path / "nope", "empty": tmp_path / "empty", "root": quick_results}
    argv = [a.format(**values) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("aimarket: error:") and message in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- figures: data


def _expected_band(df: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean, 5% and 95% percentiles (numpy) and count of ``value`` per ``keys`` group, nulls left out."""
    rows = []
    for group, d in df.dropna(subset=[value]).groupby(keys, sort=True):
        v = d[value].to_numpy(dtype=float)
        group = group if isinstance(group, tuple) else (group,)
        rows.append({**dict(zip(keys, group, strict=True)), "mean": v.mean(), "lo": np.quantile(v, 0.05),
                     "hi": np.quantile(v, 0.95), "n": len(v)})
    return pd.DataFrame(rows)


def _assert_same_band(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    assert len(actual) == len(expected) > 0
    merged = actual.merge(expected, on=keys, how="outer", suffixes=("", "_exp"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    for col in ("mean", "lo", "hi"):
        np.testing.assert_allclose(merged[col].astype(float), merged[f"{col}_exp"].astype(float), rtol=1e-12,
                                   atol=1e-12, err_msg=col)
    assert (merged["n"] == merged["n_exp"]).all()


def _factors(res) -> list[str]:
    return [f["key"] for f in res.manifest["experiment"]["factors"]]


def _q1_expected(root: Path) -> pd.DataFrame:
    frames = []
    for name, regime in (("q1_concentration_pretraining", "pre-training-dominated"),
                         ("q1_concentration_inference", "inference-dominated"),
                         ("sutton_exogenous", "Sutton: exogenous sunk costs"),
                         ("sutton_endogenous", "Sutton: endogenous sunk costs")):
        res = experiments.load(root / name)
        base = res.manifest["base_scenario"]
        spy = round(1 / base["time"]["step_years"])
        ts = res.timeseries
        rows = []
        for rid, d in ts.groupby("run_id"):
            d = d.sort_values("step")
            last = d.tail(spy)
            scale = float(d["demand.market_scale"].iloc[0])
            size = scale * sum(t["tasks_per_step"] * t["value"] for t in base["tasks"]) * spy
            rows.append({"regime": regime, "run_id": rid, "market_scale": scale, "market_size_usd": size,
                         "sunk_cost_usd": base["entry"]["cost"],
                         "log_size_over_sunk": math.log10(size / base["entry"]["cost"]),
                         "hhi": last["hhi"].mean(), "cr4": last["cr4"].mean(), "n_labs": d["n_labs"].iloc[-1]})
        frames.append(pd.DataFrame(rows))
    return pd.concat(frames, ignore_index=True)


def test_q1_figure_data_equal_the_stored_results(drawn, quick_results):
    expected = _q1_expected(quick_results)
    bounds = drawn["q1_bounds"].data.merge(expected, on=["regime", "run_id"], suffixes=("", "_exp"))
    assert len(bounds) == len(expected) == len(drawn["q1_bounds"].data) == 20 + 12  # two regimes, two textbook cases
    for col in ("market_scale", "market_size_usd", "sunk_cost_usd", "log_size_over_sunk", "hhi", "cr4", "n_labs"):
        np.testing.assert_allclose(bounds[col], bounds[f"{col}_exp"], rtol=1e-12, err_msg=col)
    for measure in ("hhi", "cr4"):
        envelope = expected.groupby(["regime", "market_scale"])[measure].min().rename("env")
        got = bounds.join(envelope, on=["regime", "market_scale"])
        np.testing.assert_allclose(got[f"{measure}_envelope"], got["env"], rtol=1e-12)
    expected = expected[~expected["regime"].str.startswith("Sutton")]  # q1_market_size draws the regimes only
    long = expected.melt(id_vars=["regime", "run_id", "market_scale"], value_vars=["hhi", "cr4", "n_labs"],
                         var_name="measure", value_name="value")
    keys = ["regime", "measure", "market_scale"]
    _assert_same_band(drawn["q1_market_size"].data, _expected_band(long, keys, "value"), keys)


def test_q1_results_tables_agree_with_the_stored_runs(quick_results, tmp_path):
    """scripts/q1-results-table: the per-run table holds every finished run of both regimes with its
    seed and entry counts, and the summary table is its mean per regime and market scale."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "scripts" / "q1-results-table"
    out = tmp_path / "q1.csv"
    subprocess.run([sys.executable, str(script), str(quick_results), str(out)], check=True, capture_output=True)
    runs = pd.read_csv(tmp_path / "q1_runs.csv", comment="#")
    summary = pd.read_csv(out, comment="#")
    header = [line for line in out.read_text().splitlines() if line.startswith("#")]
    assert len(header) == 3 and all("10 of 10 runs done" in line for line in header[1:])
    assert len(runs) == 20 and set(runs["regime"]) == {"pre-training-dominated", "inference-dominated"}
    for name, regime in F.REGIMES.items():
        res = experiments.load(quick_results / name)
        counts = res.timeseries.groupby("run_id")[["arrivals", "entries"]].sum()
        mine = runs[runs["regime"] == regime].set_index("run_id").sort_index()
        assert (mine["seed"] == res.design.set_index("run_id")["seed"].loc[mine.index]).all()
        assert (mine[["arrivals", "entries"]] == counts.loc[mine.index]).all().all()
        assert (mine["entries"] <= mine["arrivals"]).all()
    means = runs.groupby(["regime", "market_scale"])[["hhi", "n_labs", "entries"]].mean()
    got = summary.set_index(["regime", "market_scale"]).loc[means.index]
    np.testing.assert_allclose(got["hhi_last_year_mean"], means["hhi"], rtol=1e-5)
    np.testing.assert_allclose(got["labs_final_mean"], means["n_labs"], rtol=1e-5)
    np.testing.assert_allclose(got["entries_mean"], means["entries"], rtol=1e-5)


def test_q2_figure_data_equal_the_stored_results(drawn, quick_results):
    res = experiments.load(quick_results / "q2_agi_price")
    tasks = {t["name"]: t["wage"] for t in res.manifest["base_scenario"]["tasks"]}
    ts = res.timeseries
    long = pd.concat([pd.DataFrame({"task": task, "year": ts["year"], "ratio": ts[f"human_level_cost_{task}"] / wage})
                      for task, wage in tasks.items()])
    _assert_same_band(drawn["q2_cost_over_time"].data, _expected_band(long, ["task", "year"], "ratio"), ["task", "year"])

    rows = []
    for rid in res.summary["run_id"]:
        s = json.loads((quick_results / "q2_agi_price" / "runs" / f"run_id={rid:05d}" / "summary.json").read_text())
        for task in tasks:
            hl, parity = s["human_level_year"][task], s["parity_year_by_task"][task]
            rows += [
                {"task": task, "measure": "cost_ratio", "value": s["human_level_cost_ratio"][task]},
                {"task": task, "measure": "copies_at_agi", "value": (s["agi_copies"] or {}).get(task)},
                {"task": task, "measure": "years_to_parity",
                 "value": None if hl is None or parity is None else parity - hl},
            ]
    expected = _expected_band(pd.DataFrame(rows).astype({"value": float}), ["measure", "task"], "value")
    _assert_same_band(drawn["q2_agi_price"].data, expected, ["measure", "task"])
    assert (drawn["q2_agi_price"].data["n_runs"] == len(res.summary)).all()


def test_q3_figure_data_equal_the_stored_results(drawn, quick_results):
    res = experiments.load(quick_results / "q3_governance")
    keys = _factors(res)
    assert keys == ["regulator.policy", "regulator.threshold_flop"]
    long = res.timeseries.melt(id_vars=[*keys, "year"], value_vars=["regulated_share", "evading_labs"],
                               var_name="measure", value_name="value")
    _assert_same_band(drawn["q3_governance"].data, _expected_band(long, [*keys, "measure", "year"], "value"),
                      [*keys, "measure", "year"])


def test_q4_figure_data_equal_the_stored_results(drawn, quick_results):
    res = experiments.load(quick_results / "q4_open_weights")
    base = res.manifest["base_scenario"]
    data = drawn["q4_open_weights"].data
    gap = data[data["measure"] == "open_gap_eoom"].drop(columns="measure")
    _assert_same_band(gap, _expected_band(res.timeseries, ["open.lag", "year"], "open_gap_eoom"), ["open.lag", "year"])
    rows = []
    for rid, lag in zip(res.design["run_id"], res.design["open.lag"], strict=True):
        s = json.loads((quick_results / "q4_open_weights" / "runs" / f"run_id={rid:05d}" / "summary.json").read_text())
        by_year: dict[int, list[float]] = {}
        for m in s["models"]:
            if m["release_step"] is not None and m["weights_value_share"] is not None:
                year = math.floor(base["time"]["start_year"] + m["release_step"] * base["time"]["step_years"] + 1e-9)
                by_year.setdefault(year, []).append(m["weights_value_share"])
        rows += [{"open.lag": lag, "year": float(y), "value": float(np.mean(v))} for y, v in by_year.items()]
    share = data[data["measure"] == "weights_value_share"].drop(columns="measure")
    _assert_same_band(share, _expected_band(pd.DataFrame(rows), ["open.lag", "year"], "value"), ["open.lag", "year"])


def test_q5_figure_data_equal_the_stored_results(drawn, quick_results):
    res = experiments.load(quick_results / "q5_ida")
    keys = _factors(res)
    # panel a draws the frontier's raw training compute (log10 FLOP), the quantity the data wall is on
    frame = res.timeseries.assign(frontier_raw_oom=np.log10(res.timeseries["frontier_training_flop"].astype(float)))
    long = frame.melt(id_vars=[*keys, "year"], value_vars=["frontier_raw_oom", "hhi", "regulated_share"],
                      var_name="measure", value_name="value")
    _assert_same_band(drawn["q5_ida"].data, _expected_band(long, [*keys, "measure", "year"], "value"),
                      [*keys, "measure", "year"])


def test_q6_figure_data_equal_the_stored_results(drawn, quick_results):
    res = experiments.load(quick_results / "q6_energy")
    step_years = res.manifest["base_scenario"]["time"]["step_years"]
    rows = []
    for (_rid, returns), d in res.timeseries.groupby(["run_id", "capability.post_wall_returns"]):
        for year, y in d.groupby(np.floor(d["year"] + 1e-9).astype(int)):
            if len(y) != round(1 / step_years):
                continue  # incomplete calendar year
            energy = y["inference_energy_mwh"].sum()
            rows.append({"capability.post_wall_returns": returns, "year": year, "measure": "training_site_power_mw",
                         "value": y["max_site_power_mw"].max()})
            rows.append({"capability.post_wall_returns": returns, "year": year, "measure": "inference_power_mw",
                         "value": energy / (len(y) * step_years * 8766.0)})
    keys = ["capability.post_wall_returns", "measure", "year"]
    _assert_same_band(drawn["q6_energy"].data, _expected_band(pd.DataFrame(rows), keys, "value"), keys)


def test_every_figure_has_units_on_every_axis_and_the_style_palette(drawn):
    for fig in drawn.values():
        for ax in fig.fig.axes:
            if not ax.get_visible() or not ax.has_data():
                continue
            for label in (ax.get_xlabel(), ax.get_ylabel()):
                if label and label != "task type":  # task type: a categorical axis
                    assert "(" in label, (fig.name, label)  # every axis label names its unit in brackets
        colours = {line.get_color().upper() for ax in fig.fig.axes for line in ax.get_lines()}
        assert colours & set(F.PALETTE), fig.name


# ----------------------------------------------------------------------------- report


def test_report_names_every_question_with_numbers_and_figures(quick_results, tmp_path):
    from aimarket.experiments.cli import main

    out = tmp_path / "report.html"
    assert main(["report", str(quick_results), "--out", str(out), "--dpi", "60"]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    for q in QUESTIONS.values():
        assert f"id='{q.id}'" in page and html.escape(q.title) in page and html.escape(q.text) in page
    # the questions' 8 figures, then one per output that Sutton's validation files list under [report]
    from aimarket.experiments.analysis.report_generic import listed_outputs

    listed = sum(len(listed_outputs(experiments.load(quick_results / n).manifest)) for n in TEXTBOOK_CASES)
    assert listed == 10
    assert page.count("data:image/png;base64,") == 8 + listed
    assert "No results for this question" not in page
    assert "share of frontier-capable usage that escapes regulation in 2030" in page
    assert "src='http" not in page and "href='http" not in page  # self-contained
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_report_answers_carry_intervals_across_runs(quick_results):
    from aimarket.experiments.questions.report import answers

    q3 = answers("q3", quick_results)
    row = q3[(q3["quantity"] == "share of frontier-capable usage that escapes regulation in 2030")
             & (q3["setting"] == "training threshold, threshold 1e25 FLOP")].iloc[0]
    res = experiments.load(quick_results / "q3_governance")
    ts = res.timeseries
    sel = ts[(ts["regulator.policy"] == "training_threshold") & (ts["regulator.threshold_flop"] == 1e25)
             & (np.floor(ts["year"]) == 2030)]
    per_run = (1 - sel["regulated_share"]).groupby(sel["run_id"]).mean()
    assert row["n"] == len(per_run) == 2
    assert row["mean"] == pytest.approx(per_run.mean(), rel=1e-12)
    assert row["lo"] == pytest.approx(np.quantile(per_run, 0.05), rel=1e-12, abs=1e-15)
    assert row["hi"] == pytest.approx(np.quantile(per_run, 0.95), rel=1e-12, abs=1e-15)
    for q in QUESTIONS:
        table = answers(q, quick_results)
        assert not table.empty and (table["n"] > 0).any(), q


def test_report_of_a_partial_results_folder_names_the_missing_questions(quick_results, tmp_path):
    from aimarket.experiments.questions.report import write_report

    root = tmp_path / "partial"
    root.mkdir()
    (root / "q3_governance").symlink_to(quick_results / "q3_governance", target_is_directory=True)
    path = write_report(root, dpi=40)
    assert path == root / "report.html"
    page = path.read_text(encoding="utf-8")
    assert page.count("No results for this question") == 5
    assert "aimarket questions run q1 --size quick" in page
    assert all(f"id='{q}'" in page for q in QUESTIONS)


# ----------------------------------------------------------------------------- the questions command


def test_questions_command_lists_and_rejects_bad_input(capsys):
    from aimarket.experiments.questions.__main__ import main

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in EXPERIMENTS) and "q1_concentration.ipynb" in out
    assert main(["run", "q7"]) == 2
    assert "unknown question 'q7'" in capsys.readouterr().err
    assert main(["run", "q1", "--workers", "-1"]) == 2


def test_questions_run_resumes_a_complete_results_folder(quick_results, capsys):
    from aimarket.experiments.questions.__main__ import main

    assert main(["run", "q2", "--out", str(quick_results), "--workers", "0", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "3/3 runs done (0 now, 0 failed)" in err


def test_aimarket_cli_registers_the_questions_command_when_listed():
    from aimarket.experiments import cli

    if "questions" not in cli.COMMANDS:
        pytest.skip("experiments/cli/__init__.py does not list the 'questions' command yet")
    assert cli.main(["questions", "list"]) == 0

