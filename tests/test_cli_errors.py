"""Bad input on the command line: exit status 2, exactly one line on stderr, no traceback, and the
output directory is neither created nor touched. Validation fails before any simulation, so these
tests are fast."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from aimarket.experiments.cli import COMMANDS, main

ROOT = Path(__file__).resolve().parents[1]

GOOD_LAB = '[[labs.roster]]\nname = "A"\ntraining_flop = 1e25\ncash = 1e9\n'

FILES = {
    "unknown_key.toml": "[users]\nvalue_sigm = 1.0\n" + GOOD_LAB,
    "duplicate_labs.toml": GOOD_LAB + GOOD_LAB,
    "empty_roster.toml": "[labs]\nroster = []\n",
    "invalid.toml": "[run]\nsteps = = 3\n" + GOOD_LAB,
    "wrong_type.toml": '[run]\nsteps = "forty"\n' + GOOD_LAB,
}

# (id, arguments after "run" (files by name), expected fragment of the one error line)
CASES = [
    ("unknown-key-set", ["--set", "users.value_sigm=1"], "did you mean 'users.value_sigma'?"),
    ("unknown-key-file", ["unknown_key.toml"], "did you mean 'users.value_sigma'?"),
    ("unknown-lab", ["--set", "labs.roster.OpenAi.cash=1"], "did you mean 'labs.roster.OpenAI'?"),
    ("wrong-type-set", ["--set", "run.steps=abc"], "'run.steps': must be an integer (got 'abc')"),
    ("wrong-type-file", ["wrong_type.toml"], "'run.steps': must be an integer (got 'forty')"),
    ("negative-compute", ["--set", "labs.roster.OpenAI.training_flop=-1e25"], "must be > 0"),
    ("negative-money", ["--set", "labs.roster.Meta.cash=-1"], "'labs.roster.Meta.cash': must be >= 0"),
    ("negative-opex", ["--set", "labs.opex=-5e7"], "'labs.opex': must be >= 0"),
    ("probability-above-1", ["--set", "tasks.chat.human_success=1.5"], "must be in [0, 1] (got 1.5)"),
    ("negative-arrivals", ["--set", "entry.arrivals=-0.5"], "'entry.arrivals': must be in [0, 1000]"),
    ("k-grid-start", ["--set", "labs.k_grid=[2, 10, 100]"], "'labs.k_grid': must be strictly increasing and start at 1"),
    ("k-grid-order", ["--set", "labs.k_grid=[1, 100, 10]"], "must be strictly increasing and start at 1"),
    ("empty-roster-set", ["--set", "labs.roster=[]"], "'labs.roster': must list at least one lab"),
    ("empty-roster-file", ["empty_roster.toml"], "'labs.roster': must list at least one lab"),
    ("duplicate-labs", ["duplicate_labs.toml"], "lab names must be unique (duplicated: A)"),
    ("bad-set-no-equals", ["--set", "users.count"], "invalid --set 'users.count'"),
    ("bad-set-no-key", ["--set", "=5"], "invalid --set '=5'"),
    ("bad-set-no-value", ["--set", "users.count="], "missing value"),
    ("missing-file", ["does_not_exist.toml"], "does not exist"),
    ("invalid-toml", ["invalid.toml"], "is not valid TOML"),
    ("steps-not-integer", ["--steps", "abc"], "--steps: must be a positive integer (got 'abc')"),
    ("steps-zero", ["--steps", "0"], "--steps: must be a positive integer"),
    ("seed-negative", ["--seed", "-3"], "--seed: must be a non-negative integer"),
    ("seed-not-integer", ["--seed", "1.5"], "--seed: must be a non-negative integer"),
    ("unknown-option", ["--bogus"], "unrecognized arguments: --bogus"),
]

SUBPROCESS_CASES = {"unknown-key-set", "wrong-type-set", "duplicate-labs", "invalid-toml", "steps-not-integer",
                    "unknown-option"}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name, text in FILES.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _check_one_line(stderr: str, fragment: str) -> None:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("aimarket: error: "), stderr
    assert fragment in lines[0], stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize(("args", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_in_process(workdir, capsys, args, fragment):
    out = workdir / "out"
    status = main(["run", *args, "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert status == 2
    _check_one_line(captured.err, fragment)
    assert not out.exists()
    assert not (workdir / "runs").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [c[1:] for c in CASES if c[0] in SUBPROCESS_CASES],
    ids=[c[0] for c in CASES if c[0] in SUBPROCESS_CASES],
)
def test_bad_input_subprocess(workdir, args, fragment):
    out = workdir / "existing"
    out.mkdir()
    marker = out / "keep.txt"
    marker.write_text("untouched")
    before = (out.stat().st_mtime_ns, sorted(p.name for p in out.iterdir()))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(
        [sys.executable, "-m", "aimarket.experiments.cli", "run", *args, "--out", str(out)],
        capture_output=True, text=True, cwd=workdir, env=env, timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    _check_one_line(proc.stderr, fragment)
    assert proc.stdout == ""
    assert (out.stat().st_mtime_ns, sorted(p.name for p in out.iterdir())) == before
    assert marker.read_text() == "untouched"


def test_out_is_a_file(workdir, capsys):
    target = workdir / "a_file"
    target.write_text("x")
    assert main(["run", "--out", str(target)]) == 2
    _check_one_line(capsys.readouterr().err, "exists and is not a directory")
    assert target.read_text() == "x"


def test_unknown_command(capsys):
    assert main(["simulate-everything"]) == 2
    _check_one_line(capsys.readouterr().err, "invalid choice")


def test_no_command(capsys):
    assert main([]) == 2
    _check_one_line(capsys.readouterr().err, "required")


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("aimarket ")


def test_help_lists_run(capsys):
    assert main(["--help"]) == 0
    assert "run" in capsys.readouterr().out
    assert COMMANDS[0] == "run"
