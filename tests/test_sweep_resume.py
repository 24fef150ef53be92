"""A sweep killed with SIGKILL part-way and resumed equals an uninterrupted sweep, byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_helpers import REPO, run_files, write_experiment

from aimarket import experiments
from aimarket.experiments.sweeps.store import completed_runs

EXPERIMENT = """root_seed = 5
replications = 3
steps = 3
outputs = ["timeseries", "labs", "summary"]
[factors]
"users.value_sigma" = [0.1, 0.2, 0.3, 0.4]
"""


def _start(exp: Path, out: Path, sleep: float) -> subprocess.Popen:
    code = (
        f"from aimarket import experiments; experiments.sweep({str(exp)!r}, {str(out)!r}, workers=2, progress=False, resume=True, "
        "run_fn='sweep_helpers:slow_simulate')"
    )
    env = dict(
        os.environ,
        AIMARKET_TEST_SLEEP=str(sleep),
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
    )
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _kill_after(proc: subprocess.Popen, out: Path, n_done: int, timeout: float = 60) -> int:
    """SIGKILL the sweep's whole process group once ``n_done`` runs are complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(completed_runs(out)) >= n_done:
            break
        if proc.poll() is not None:
            pytest.fail(f"sweep ended before it was killed: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return len(completed_runs(out))


def test_sigkill_then_resume_equals_uninterrupted(tmp_path, monkeypatch):
    monkeypatch.setenv("AIMARKET_TEST_SLEEP", "0")  # the resumed session runs the same code, without the pause
    exp = write_experiment(tmp_path, EXPERIMENT)
    out = tmp_path / "killed"
    done_at_kill = _kill_after(_start(exp, out, sleep=0.3), out, n_done=3)
    assert 3 <= done_at_kill < 12
    # only complete run folders are visible; anything partial is hidden (.tmp) and removed on resume
    for d in (out / "runs").iterdir():
        assert d.name.startswith(".") or (d / "_SUCCESS").exists()

    report = experiments.sweep(exp, out, workers=2, resume=True, progress=False, run_fn="sweep_helpers:slow_simulate")
    assert report.complete and report.done_before == done_at_kill
    assert report.done_now == 12 - done_at_kill  # only what was missing
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]

    reference = tmp_path / "reference"
    experiments.sweep(exp, reference, workers=2, progress=False)
    assert run_files(out) == run_files(reference)
    sessions = experiments.load(out).manifest["sessions"]
    assert [s["status"] for s in sessions] == ["running", "complete"]


@pytest.mark.slow
def test_repeated_kills_at_random_moments(tmp_path):
    exp = write_experiment(tmp_path, EXPERIMENT)
    out = tmp_path / "killed"
    for n_done in (1, 4, 7, 10):
        if len(completed_runs(out)) >= 12:
            break
        _kill_after(_start(exp, out, sleep=0.05), out, n_done=n_done)
    experiments.sweep(exp, out, workers=2, resume=True, progress=False, run_fn="sweep_helpers:slow_simulate")
    reference = tmp_path / "reference"
    experiments.sweep(exp, reference, workers=1, progress=False)
    assert run_files(out) == run_files(reference)
