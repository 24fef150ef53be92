"""Sweeps end to end: results store, load, determinism across executors, faults."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from sweep_helpers import GRID, run_files, write_experiment

from aimarket import experiments
from aimarket.experiments.sweeps.design import run_seeds
from aimarket.experiments.sweeps.run_folders import run_code
from aimarket.experiments.sweeps.store import completed_runs
from aimarket.simulation.errors import ExperimentError


def test_small_sweep_end_to_end_on_two_workers(tmp_path):
    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "out"
    report = experiments.sweep(exp, out, workers=2, progress=False)
    assert report.complete and report.n_runs == 8 and report.done_now == 8 and not report.failed
    assert completed_runs(out) == set(range(8))

    design = pq.read_table(out / "design.parquet").to_pandas()
    assert list(design.columns) == [
        "run_id",
        "point",
        "replication",
        "users.switching_cost",
        "users.value_sigma",
        "seed",
    ]
    assert list(design["seed"]) == run_seeds(11, 8)
    assert design["seed"].nunique() == 8
    assert sorted(set(zip(design["users.switching_cost"], design["users.value_sigma"], strict=True))) == [
        (0.0, 0.1),
        (0.0, 0.4),
        (0.1, 0.1),
        (0.1, 0.4),
    ]

    manifest = json.loads((out / "manifest.json").read_text())
    for key in (
        "experiment_text",
        "base_scenario",
        "versions",
        "git",
        "root_seed",
        "sampler",
        "sessions",
        "started",
        "finished",
        "failed_runs",
    ):
        assert key in manifest
    assert manifest["status"] == "complete" and manifest["root_seed"] == 11
    assert manifest["sampler"]["method"] == "grid"
    assert manifest["sessions"][0]["backend"]["kind"] == "local"
    assert manifest["base_scenario"]["users"]["count"] == 300

    res = experiments.load(out)
    assert len(res.design) == 8 and set(res.design["status"]) == {"done"}
    assert len(res.summary) == 8 and "users.value_sigma" in res.summary.columns
    ts = res.timeseries
    assert len(ts) == 8 * 3 and {"run_id", "step", "seed", "users.switching_cost"} <= set(ts.columns)
    summary0 = json.loads((out / "runs" / "run_id=00000" / "summary.json").read_text())
    assert summary0.get("seed", design["seed"][0]) == design["seed"][0]
    assert res.labs is None  # not kept
    # no temporary files left behind
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_identical_outputs_on_1_and_2_workers_and_dask(tmp_path):
    distributed = pytest.importorskip("distributed")
    exp = write_experiment(tmp_path, 'outputs = ["timeseries", "labs", "summary"]\n' + GRID)
    experiments.sweep(exp, tmp_path / "w1", workers=1, progress=False)
    experiments.sweep(exp, tmp_path / "w2", workers=2, progress=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = experiments.sweep(exp, tmp_path / "dask", scheduler=client, progress=False)
    assert report.backend["kind"] == "dask"
    one = run_files(tmp_path / "w1")
    assert len([k for k in one if k.endswith("labs.parquet")]) == 8
    assert one == run_files(tmp_path / "w2")
    assert one == run_files(tmp_path / "dask")


def test_refuses_foreign_or_existing_folder(tmp_path):
    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "out"
    experiments.sweep(exp, out, workers=0, progress=False)
    with pytest.raises(ExperimentError, match="add --resume"):
        experiments.sweep(exp, out, workers=0)
    other = write_experiment(tmp_path, GRID.replace("root_seed = 11", "root_seed = 12"), "other.toml")
    with pytest.raises(ExperimentError, match="different sweep"):
        experiments.sweep(other, out, workers=0, resume=True)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("mine")
    with pytest.raises(ExperimentError, match="holds no sweep"):
        experiments.sweep(exp, junk, workers=0)
    # resume of a complete sweep does nothing
    report = experiments.sweep(exp, out, workers=0, resume=True, progress=False)
    assert report.done_now == 0 and report.complete


def test_failing_run_is_recorded_and_sweep_goes_on(tmp_path):
    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "out"
    report = experiments.sweep(exp, out, workers=2, progress=False, run_fn="sweep_helpers:failing_simulate")
    assert not report.complete
    assert report.done_now == 4 and len(report.failed) == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "incomplete"
    failed = {f["run_id"]: f for f in manifest["failed_runs"]}
    assert set(failed) == {4, 5, 6, 7}  # points 2 and 3 have switching_cost 0.1
    assert all("injected failure" in f["error"] and f["seed"] for f in failed.values())
    failures = json.loads((out / "failures.json").read_text())
    assert "Traceback" in failures[0]["traceback"]
    res = experiments.load(out)
    assert list(res.design["status"]) == ["done"] * 4 + ["failed"] * 4
    assert len(res.summary) == 4
    # the working model is other code: resuming with it is refused, then allowed and recorded
    with pytest.raises(ExperimentError, match="made by different code .*run_fn sweep_helpers:failing_simulate"):
        experiments.sweep(exp, out, workers=2, resume=True, progress=False)
    report = experiments.sweep(exp, out, workers=2, resume=True, progress=False, allow_code_change=True)
    assert report.complete and report.done_now == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["failed_runs"] == [] and manifest["code_changed"] is True
    assert [s["code"]["run_fn"] for s in manifest["sessions"]] == [
        "sweep_helpers:failing_simulate", "aimarket.simulation.run:simulate"]
    assert {run_code(out, r)["run_fn"] for r in range(8)} == {"sweep_helpers:failing_simulate",
                                                               "aimarket.simulation.run:simulate"}
    assert run_code(out, 4)["run_fn"] == "aimarket.simulation.run:simulate"


def test_dead_worker_runs_are_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMARKET_TEST_MARKER", str(tmp_path / "crashed"))
    exp = write_experiment(tmp_path, GRID)
    report = experiments.sweep(
        exp, tmp_path / "out", workers=2, progress=False, run_fn="sweep_helpers:crashing_once_simulate"
    )
    assert (tmp_path / "crashed").exists()
    assert report.complete and not report.failed
    reference = experiments.sweep(exp, tmp_path / "ref", workers=2, progress=False)
    assert reference.complete
    assert run_files(tmp_path / "out") == run_files(tmp_path / "ref")


def test_run_that_always_kills_its_worker_fails_alone(tmp_path):
    exp = write_experiment(tmp_path, GRID)
    report = experiments.sweep(
        exp,
        tmp_path / "out",
        workers=2,
        progress=False,
        run_fn="sweep_helpers:crashing_always_simulate",
        max_attempts=2,
    )
    assert sorted(f["run_id"] for f in report.failed) == [6, 7]
    assert all("worker process died" in f["error"] for f in report.failed)
    assert completed_runs(tmp_path / "out") == set(range(6))


def test_two_sweeps_never_write_one_folder(tmp_path):
    from aimarket.experiments.sweeps.store import FolderLock

    exp = write_experiment(tmp_path, GRID)
    out = tmp_path / "out"
    out.mkdir()
    with FolderLock(out), pytest.raises(ExperimentError, match="another sweep"):
        experiments.sweep(exp, out, workers=0, resume=True)
    assert experiments.sweep(exp, out, workers=0, resume=True, progress=False).complete
