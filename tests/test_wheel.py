"""A built wheel works anywhere: build it from a copy of the source in a temporary folder, install it
into a fresh virtual environment, and from an unrelated folder that holds its own ``experiments/`` and
``simulation/`` packages run the command line and the Python API on the packaged scenarios.

The fresh environment gets the wheel itself (``pip install --no-deps``); its third-party dependencies
(numpy, numba, mesa...) are read from this test's environment through a ``.pth`` file, so the test needs
no download. Only ``aimarket`` comes from the wheel: the test checks where it is imported from, and the
decoy packages of the research folder raise if anything imports them. About a minute (numba compiles the
kernels once in the new environment); not marked slow, so `make test` and .ci/run include it.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns(".git", ".venv*", "runs", "results", "figures", "build", "dist", "*.egg-info",
                                 "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", ".ipynb_checkpoints")
DECOY = "raise ImportError('the research folder\\'s own package was imported instead of aimarket\\'s')\n"


def _run(args, cwd, env=None, timeout=600):
    res = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                         preexec_fn=lambda: os.umask(0o022))
    assert res.returncode == 0, f"{args}: exit {res.returncode}\n{res.stdout[-2000:]}\n{res.stderr[-4000:]}"
    return res.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel path, environment folder, its python, research folder, environment variables)."""
    try:
        import setuptools  # noqa: F401
    except ImportError:
        pytest.skip("setuptools is not installed in this environment (it comes with the dev extra)")
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    shutil.copytree(REPO, source, ignore=_IGNORE, symlinks=True)
    dist = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", dist, source],
         cwd=root)
    (wheel,) = dist.glob("aimarket-*.whl")
    env_dir = root / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_aimarket_test_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(deps)))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel],
         cwd=root)
    research = root / "research"
    for name in ("experiments", "simulation", "agents"):  # a researcher's own packages, named generically
        (research / name).mkdir(parents=True)
        (research / name / "__init__.py").write_text(DECOY)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return wheel, env_dir, python, research, env, site


def test_wheel_holds_one_package_and_its_data(installed):
    wheel = installed[0]
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"aimarket", "aimarket-0.1.0.dist-info"}
    for expected in ("aimarket/__init__.py", "aimarket/simulation/model.py", "aimarket/agents/lab.py",
                     "aimarket/experiments/cli/__init__.py", "aimarket/scenarios/default.toml",
                     "aimarket/scenarios/targets_2025.toml", "aimarket/scenarios/sutton_endogenous.toml",
                     "aimarket/experiments/aimarket.mplstyle", "aimarket/experiments/questions/q3_governance.quick.toml",
                     "aimarket/experiments/examples/smoke.toml", "aimarket/experiments/analysis/templates/report.html.j2",
                     "aimarket/experiments/validation/sutton_exogenous.quick.toml"):
        assert expected in names, expected
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "aimarket = aimarket.experiments.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_runs_from_an_unrelated_folder(installed):
    _, env_dir, python, research, env, site = installed
    aimarket = env_dir / "bin" / "aimarket"
    out = _run([aimarket, "run", "--steps", "2", "--set", "users.count=300", "--quiet"], cwd=research, env=env)
    assert "outputs in runs/default/" in out
    summary = json.loads((research / "runs" / "default" / "summary.json").read_text())
    assert summary["scenario"]["run"]["steps"] == 2
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (research / "runs" / "default").iterdir()}
    assert set(modes.values()) == {0o644}, modes

    listing = _run([aimarket, "questions", "list"], cwd=research, env=env)
    assert all(f"q{i}  " in listing for i in range(1, 7)) and "q3_governance.quick.toml" in listing
    scenarios = _run([aimarket, "scenarios"], cwd=research, env=env)
    assert str(site / "aimarket" / "scenarios") in scenarios and "sutton_exogenous" in scenarios
    _run([aimarket, "scenarios", "copy", "policy_training_1e25", "mine"], cwd=research, env=env)
    _run([aimarket, "run", "mine/policy_training_1e25.toml", "--steps", "1", "--set", "users.count=300",
          "--quiet"], cwd=research, env=env)
    assert (research / "runs" / "policy_training_1e25" / "timeseries.parquet").is_file()

    code = ("import json, importlib.util, aimarket; "
            "r = aimarket.simulate(aimarket.load_scenario(None, {'users.count': 300}), seed=1, steps=2); "
            "m = aimarket.MarketModel(users__count=300); m.step(); "
            "print(json.dumps([aimarket.__file__, r.timeseries.num_rows, len(m.datacollector.get_model_vars_dataframe()), "
            "[importlib.util.find_spec(n).origin for n in ('simulation', 'agents', 'experiments')]]))")
    file, rows, collected, origins = json.loads(_run([python, "-c", code], cwd=research, env=env))
    assert Path(file).parent == site / "aimarket"  # aimarket from the wheel, not from the repository
    assert (rows, collected) == (2, 1)
    # the top-level name experiments, here, is the researcher's package: aimarket installs none
    assert [Path(o).parent.parent for o in origins] == [research] * 3
