"""The single aimarket package: its package list, the packaged files found with importlib.resources,
`aimarket scenarios`, and output files that honour the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import aimarket
from aimarket import resources
from aimarket.experiments.cli import main
from aimarket.experiments.questions import EXPERIMENTS, SIZES, experiment_file
from aimarket.experiments.sweeps.spec import read_experiment
from aimarket.simulation.outputs import atomic_write
from aimarket.simulation.scenario import loading

REPO = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_package_list_names_every_package_folder():
    found = set()
    for name, folder in SETUPTOOLS["package-dir"].items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            if "__pycache__" not in rel.parts and not any(p.startswith(".") for p in rel.parts):
                found.add(".".join((name, *rel.parts)))
    assert set(SETUPTOOLS["packages"]) == found
    assert all(p == "aimarket" or p.startswith("aimarket.") for p in SETUPTOOLS["packages"])


def test_the_public_api():
    assert set(aimarket.__all__) == {"load_scenario", "simulate", "MarketModel", "sweep", "load", "sensitivity",
                                     "__version__"}
    assert aimarket.__version__ == "0.1.0"
    assert aimarket.load_scenario is loading.load_scenario
    assert aimarket.sweep.__module__ == "aimarket.experiments"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        aimarket.nothing  # noqa: B018


def test_no_top_level_simulation_agents_or_experiments_module(tmp_path):
    code = ("import importlib.util, aimarket.experiments.cli; "
            "print([n for n in ('simulation', 'agents', 'experiments') if importlib.util.find_spec(n)])")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_packaged_files_are_found_with_importlib_resources():
    assert resources.scenario_names() == sorted(p.stem for p in (REPO / "scenarios").glob("*.toml")
                                                if p.name != "targets_2025.toml")
    assert loading.DEFAULT_SCENARIO == resources.scenario_file("default")
    assert loading.DEFAULT_SCENARIO.samefile(REPO / "scenarios" / "default.toml")
    assert resources.targets_file().is_file() and resources.style_file().is_file()
    assert (resources.templates_folder() / "report.html.j2").is_file()
    # every experiment file resolves its base scenario inside the package
    files = [experiment_file(name, size) for name in EXPERIMENTS for size in SIZES]
    files += sorted(resources.examples_folder().glob("*.toml"))
    files += sorted((resources.package_folder("aimarket.experiments") / "validation").glob("*.toml"))
    assert len(files) > len(EXPERIMENTS) * 2
    for path in files:
        experiment = read_experiment(path)
        assert experiment.scenario_path.parent == resources.scenarios_folder().resolve(), path


def test_scenarios_lists_and_copies(tmp_path, capsys):
    assert main(["scenarios"]) == 0
    listing = capsys.readouterr().out
    assert all(f"  {name} " in listing for name in resources.scenario_names())
    assert "targets_2025" not in listing
    assert main(["scenarios", "copy", "policy_capability", str(tmp_path / "mine")]) == 0
    copy = tmp_path / "mine" / "policy_capability.toml"
    assert (tmp_path / "mine" / "default.toml").is_file()  # the file it extends comes along
    assert loading.load_scenario(copy) == loading.load_scenario(resources.scenario_file("policy_capability"))
    copy.write_text(copy.read_text() + "\n# edited\n")
    capsys.readouterr()
    assert main(["scenarios", "copy", "policy_capability", str(tmp_path / "mine")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "policy_capability.toml: exists (use --force to overwrite it)" in err
    assert main(["scenarios", "copy", "policy_capability", str(tmp_path / "mine"), "--force"]) == 0
    assert "edited" not in copy.read_text()
    assert main(["scenarios", "copy", "default", str(tmp_path / "one.toml")]) == 0
    assert (tmp_path / "one.toml").read_bytes() == resources.scenario_file("default").read_bytes()
    assert main(["scenarios", "copy", "nope", str(tmp_path)]) == 2
    assert "unknown packaged scenario 'nope' (allowed: default," in capsys.readouterr().err


def _modes(folder: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def test_run_outputs_honour_the_umask(tmp_path, umask):
    umask(0o022)
    out = tmp_path / "run"
    assert main(["run", "--steps", "1", "--set", "users.count=200", "--out", str(out), "--quiet"]) == 0
    modes = _modes(out)
    assert {"timeseries.parquet", "labs.parquet", "summary.json", "overview.png"} <= set(modes)
    assert set(modes.values()) == {0o644}
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    umask(0o027)
    assert stat.S_IMODE(atomic_write(tmp_path / "a.txt", lambda tmp: tmp.write_text("x")).stat().st_mode) == 0o640
    umask(0o077)
    assert stat.S_IMODE(atomic_write(tmp_path / "b.txt", lambda tmp: tmp.write_text("x")).stat().st_mode) == 0o600
