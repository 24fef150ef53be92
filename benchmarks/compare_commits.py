"""The whole default run at an earlier commit and in this working tree, timed side by side in one run.

    .venv/bin/python benchmarks/compare_commits.py [--commit 825eb61] [--repeats 5] [--set users.count=2000]

The earlier commit (default 825eb61, the code before issue 14) is extracted with ``git archive`` into a
temporary folder; both trees are imported through a folder that maps them into the package ``aimarket``
as the installed package-dir does (aimarket/, simulation/, agents/, experiments/, scenarios/), each with
its own numba cache. Every timed run is a fresh process that first warms up (compilation is not timed)
and then times one ``simulate`` of the scenario in CPU seconds (``time.process_time``); the runs
alternate old, new, old, new, ... so that both see the same load on the machine. Prints the median of
each, the speed-up (old / new) and the largest relative difference of the numeric summary figures
(the same model: they should agree to the equilibrium tolerance, not bit for bit).
Run it with one core: ``NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = ("simulation", "agents", "experiments", "scenarios")

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import aimarket
from aimarket.simulation import kernels
assert kernels.__file__.startswith(sys.argv[1]), kernels.__file__
from aimarket.simulation.run import simulate, warm_up
from aimarket.simulation.scenario.loading import load_scenario
warm_up()
scenario = load_scenario(None, json.loads(sys.argv[2]))
start = time.process_time()
result = simulate(scenario)
cpu = time.process_time() - start
numbers = {k: v for k, v in result.summary.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
print(json.dumps({"cpu": cpu, "summary": numbers}))
"""


def package_root(tree: Path, folder: Path) -> Path:
    """A folder holding ``aimarket/`` whose sub-packages are symbolic links into ``tree``."""
    pkg = folder / "aimarket"
    pkg.mkdir(parents=True)
    for item in (tree / "aimarket").iterdir():
        if item.suffix == ".py":
            (pkg / item.name).symlink_to(item)
    for name in FOLDERS:
        (pkg / name).symlink_to(tree / name, target_is_directory=True)
    return folder


def extract(commit: str, target: Path) -> None:
    archive = target.with_suffix(".tar")
    subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o", str(archive), commit], check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    archive.unlink()


def timed_run(root: Path, cache: Path, overrides: dict) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), json.dumps(overrides)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def parse_overrides(pairs: list[str]) -> dict:
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        overrides[key] = json.loads(value)
    return overrides


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", default="825eb61", help="the earlier commit (default 825eb61)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs of each (default 5)")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=JSON", help="scenario override")
    args = parser.parse_args()
    overrides = parse_overrides(args.set)
    label = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=True,
                           capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old_tree = tmp / "old"
        extract(args.commit, old_tree)
        roots = {"old": package_root(old_tree, tmp / "old_pkg"), "new": package_root(REPO, tmp / "new_pkg")}
        caches = {name: tmp / f"cache_{name}" for name in roots}
        for name in roots:  # compile into each tree's cache (untimed)
            timed_run(roots[name], caches[name], {**overrides, "users.count": 60, "run.steps": 1})
        runs = {name: [] for name in roots}
        for _ in range(args.repeats):
            for name in ("old", "new"):
                runs[name].append(timed_run(roots[name], caches[name], overrides))
    cpu = {name: [r["cpu"] for r in rs] for name, rs in runs.items()}
    old, new = statistics.median(cpu["old"]), statistics.median(cpu["new"])
    print(f"side by side, one core, {args.repeats} alternating runs each, scenario overrides {overrides or 'none'}")
    print(f"  before ({args.commit}):        median {old:7.2f} s CPU  runs {', '.join(f'{x:.2f}' for x in cpu['old'])}")
    print(f"  this tree (HEAD {label} + work tree): median {new:7.2f} s CPU  runs "
          f"{', '.join(f'{x:.2f}' for x in cpu['new'])}")
    print(f"  speed-up (before / now): {old / new:5.2f}x  (target >= 2x)")
    a, b = runs["old"][0]["summary"], runs["new"][0]["summary"]
    diffs = {k: abs(a[k] - b[k]) / max(abs(a[k]), abs(b[k]), 1e-300)
             for k in a if k in b and math.isfinite(a[k]) and math.isfinite(b[k]) and (a[k] or b[k])}
    if diffs:
        worst = max(diffs, key=diffs.get)
        print(f"  numeric summary figures compared: {len(diffs)}; largest relative difference "
              f"{diffs[worst]:.2e} ({worst})")
        economic = {k: v for k, v in diffs.items() if "residual" not in k}  # a residual is at the tolerance
        if economic:
            worst = max(economic, key=economic.get)
            print(f"  largest relative difference of a figure other than a Nash residual: {economic[worst]:.2e} "
                  f"({worst})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
