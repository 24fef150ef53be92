"""Stand-ins for ``aimarket.simulation.run.simulate`` used by the sweep tests (importable by spawned workers,
which inherit the test process's sys.path). Each has simulate's signature and, unless it fails on
purpose, returns exactly what simulate returns."""

from __future__ import annotations

import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = REPO / "scenarios" / "default.toml"


def write_experiment(folder: Path, body: str, name: str = "exp.toml") -> Path:
    """An experiment file on the default scenario with tiny runs (300 users), plus ``body``."""
    path = Path(folder) / name
    text = f'scenario = "{DEFAULT_SCENARIO.as_posix()}"\n' + body
    if "[overrides]" not in body:
        text += '\n[overrides]\n"users.count" = 300\n'
    path.write_text(text)
    return path


GRID = """root_seed = 11
replications = 2
steps = 3
[factors]
"users.switching_cost" = [0.0, 0.1]
"users.value_sigma" = [0.1, 0.4]
"""


def simulate(scenario, *, seed=None, steps=None, progress=None):
    from aimarket.simulation.run import simulate as real

    return real(scenario, seed=seed, steps=steps, progress=progress)


def slow_simulate(scenario, *, seed=None, steps=None, progress=None):
    """simulate, after a pause (so a test can kill a sweep part-way)."""
    time.sleep(float(os.environ.get("AIMARKET_TEST_SLEEP", "0.3")))
    return simulate(scenario, seed=seed, steps=steps, progress=progress)


def failing_simulate(scenario, *, seed=None, steps=None, progress=None):
    """Raises for switching_cost 0.1 (half of the GRID design)."""
    if scenario.users.switching_cost == 0.1:
        raise ValueError("injected failure for switching_cost 0.1")
    return simulate(scenario, seed=seed, steps=steps, progress=progress)


def crashing_once_simulate(scenario, *, seed=None, steps=None, progress=None):
    """Kills its worker process the first time it runs a value_sigma 0.4 point (a marker file
    named by AIMARKET_TEST_MARKER records that it did)."""
    marker = Path(os.environ["AIMARKET_TEST_MARKER"])
    if scenario.users.value_sigma == 0.4 and not marker.exists():
        marker.write_text("crashed")
        os._exit(9)
    return simulate(scenario, seed=seed, steps=steps, progress=progress)


def crashing_always_simulate(scenario, *, seed=None, steps=None, progress=None):
    """Kills its worker process on every run of point switching_cost 0.1, value_sigma 0.4."""
    if scenario.users.value_sigma == 0.4 and scenario.users.switching_cost == 0.1:
        os._exit(9)
    return simulate(scenario, seed=seed, steps=steps, progress=progress)


def run_files(out: Path) -> dict[str, bytes]:
    """Every output file of the finished runs (and the design), by relative path. A run folder's
    record (_files.json, _SUCCESS) is left out: it names the code (run_fn) that made the run, which
    the tests vary; its file list is checked against the outputs by verify_run."""
    from aimarket.experiments.sweeps.run_folders import FILES, SUCCESS, verify_runs

    out = Path(out)
    assert not verify_runs(out, hashes=True)[1]
    files = {"design.parquet": (out / "design.parquet").read_bytes()}
    for path in sorted((out / "runs").rglob("*")):
        if path.is_file() and path.name not in (FILES, SUCCESS):
            files[path.relative_to(out).as_posix()] = path.read_bytes()
    return files


def one_line_error(err: str, fragment: str) -> str:
    """The single ``aimarket: ...`` line of ``err`` (asserting there is one, with ``fragment``, no traceback)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aimarket: "), err
    assert fragment in lines[0], err
    assert "Traceback" not in err
    return lines[0]


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below ``folder`` (hidden ones included), by relative path: to show nothing changed."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
