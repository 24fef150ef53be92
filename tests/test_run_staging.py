"""``aimarket run`` (and figures, report) replace an output folder whole or not at all: a failed or killed
run leaves the previous outputs intact, and a second writer of the same folder is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_helpers import REPO, folder_bytes

from aimarket.experiments.cli import main
from aimarket.simulation.errors import UserInputError
from aimarket.simulation.output_folders import FileLock, staged_folder
from aimarket.simulation.outputs import RUN_FILES

QUICK = ["--steps", "2", "--set", "users.count=200", "--quiet"]


def _hidden_siblings(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.glob(f".{folder.name}.*"))


def test_run_replaces_its_outputs_and_keeps_other_files(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", *QUICK, "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(RUN_FILES)
    (out / "notes.txt").write_text("mine")
    first = (out / "summary.json").read_bytes()
    assert main(["run", *QUICK, "--seed", "7", "--out", str(out)]) == 0
    assert (out / "summary.json").read_bytes() != first
    assert (out / "notes.txt").read_text() == "mine"
    assert _hidden_siblings(out) == []
    assert f"summary      {out}/summary.json" in capsys.readouterr().out


def test_second_concurrent_run_into_one_folder_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    with FileLock(tmp_path / ".out.lock", "held by the test"):
        assert main(["run", *QUICK, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another process (pid" in err[0] and "is writing this folder" in err[0]
    assert not out.exists()


def test_failure_inside_a_staged_folder_leaves_the_folder_as_it_was(tmp_path):
    final = tmp_path / "figures"
    final.mkdir()
    (final / "a.png").write_bytes(b"old a")
    (final / "b.png").write_bytes(b"old b")
    with pytest.raises(RuntimeError), staged_folder(final) as staging:
        (staging / "a.png").unlink()
        (staging / "a.png").write_bytes(b"new a")
        raise RuntimeError("drawing failed")
    assert folder_bytes(final) == {"a.png": b"old a", "b.png": b"old b"} and _hidden_siblings(final) == []
    with staged_folder(final) as staging:  # a partial redraw keeps the other files
        (staging / "a.png").unlink()
        (staging / "a.png").write_bytes(b"new a")
    assert folder_bytes(final) == {"a.png": b"new a", "b.png": b"old b"}


def test_a_kill_between_the_two_renames_is_undone(tmp_path):
    final = tmp_path / "out"
    old = tmp_path / ".out.old-4242"  # what a kill after the first rename leaves
    old.mkdir()
    (old / "summary.json").write_text("previous")
    (tmp_path / ".out.tmp-4242").mkdir()
    with staged_folder(final, replaced=RUN_FILES) as staging:
        assert (staging / "summary.json").exists() is False  # restored, then the old outputs are replaced
        (staging / "summary.json").write_text("new")
    assert (final / "summary.json").read_text() == "new"
    assert _hidden_siblings(final) == []


def test_staged_folder_refuses_a_file_in_its_place(tmp_path):
    (tmp_path / "out").write_text("x")
    with pytest.raises(UserInputError, match="exists and is not a folder"), staged_folder(tmp_path / "out"):
        pass


def test_kill_during_aimarket_run_keeps_the_previous_run(tmp_path):
    out = tmp_path / "out"
    assert main(["run", *QUICK, "--out", str(out)]) == 0
    before = folder_bytes(out)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    for delay in (0.0, 0.5, 1.5):
        proc = subprocess.Popen(
            [sys.executable, "-m", "aimarket.experiments.cli", "run", "--steps", "40", "--set", "users.count=2000",
             "--quiet", "--out", str(out)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.tmp-*")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert folder_bytes(out) == before  # nothing of the killed run is in the folder
    assert main(["run", *QUICK, "--seed", "3", "--out", str(out)]) == 0
    assert _hidden_siblings(out) == [] and folder_bytes(out) != before
