"""Throughput of the sweep runner: runs per minute on 1 and 2 workers, overhead, parallel efficiency.

    .venv/bin/python benchmarks/sweep_throughput.py [--runs 16] [--users 2000] [--steps 8]

Measures, on the default scenario with ``--users`` users and ``--steps`` steps (``--runs`` replications,
each with its own seed):

1. a plain loop in this process: ``apply_overrides`` + ``simulate`` per run, after ``warm_up``
   (the model's cost, nothing else);
2. ``experiments.sweep`` in this process (``workers=0``): the runner's own bookkeeping
   (serialising, atomic writes, manifest) on top of the same runs;
3. ``experiments.sweep`` with 1 and 2 worker processes (wall time from the call, including spawning
   the workers and warming them up).

Figures printed: runs per minute of each, the runner's overhead against the plain loop (target at
most 5 %), and the parallel efficiency on 2 workers, ``T(1 worker) / (2 * T(2 workers))`` (target at
least 85 %). Overheads shrink with longer runs: the fixed cost of starting a worker is amortised.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _experiment(folder: Path, runs: int, users: int, steps: int) -> Path:
    """``runs`` replications of the default scenario (seeds drawn from the root seed). (A grid over
    ``users.value_sigma`` from 0.5 to 1.5 was used before the 2025 calibration; most of those points now
    have no brand terms that give the observed 2025 shares, docs/ODD.md §5.4.)"""
    path = folder / "bench.toml"
    path.write_text(
        f'scenario = "{(REPO / "scenarios" / "default.toml").as_posix()}"\n'
        f'root_seed = 1\nreplications = {runs}\nsteps = {steps}\noutputs = ["timeseries", "labs", "summary"]\n'
        f'[overrides]\n"users.count" = {users}\n'
    )
    return path


def _burn(n: int) -> float:
    """A pure-Python CPU loop (no memory traffic): the machine's own ceiling of parallel speed-up."""
    t = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - t


def machine_efficiency(n: int = 20_000_000) -> float:
    """Parallel efficiency of two copies of a CPU loop on 2 processes (1.0 = two free cores)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [1000, 1000])  # start the processes
        t = time.perf_counter()
        pool.map(_burn, [n, n], chunksize=1)
        parallel = time.perf_counter() - t
    serial = _burn(n) + _burn(n)
    return serial / (2 * parallel)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="runs per measurement (default 40)")
    parser.add_argument("--users", type=int, default=2000, help="users.count (default 2000)")
    parser.add_argument("--steps", type=int, default=20, help="steps per run (default 20)")
    args = parser.parse_args()

    from aimarket import experiments
    from aimarket.experiments.sweeps.design import build_runs, load_base_scenario, run_overrides
    from aimarket.experiments.sweeps.runner import warm_up
    from aimarket.experiments.sweeps.spec import read_experiment
    from aimarket.simulation.run import simulate
    from aimarket.simulation.scenario.overrides import apply_overrides

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = _experiment(tmp, args.runs, args.users, args.steps)
        exp = read_experiment(path)
        base = load_base_scenario(exp)
        runs = build_runs(exp)

        t = time.perf_counter()
        warm_up()
        warm = time.perf_counter() - t
        simulate(apply_overrides(base, run_overrides(exp, runs[0])), seed=runs[0].seed)  # first-call costs
        t = time.perf_counter()
        for r in runs:
            simulate(apply_overrides(base, run_overrides(exp, r)), seed=r.seed)
        plain = time.perf_counter() - t

        timings = {}
        for label, workers in (("inline", 0), ("1 worker", 1), ("2 workers", 2)):
            t = time.perf_counter()
            report = experiments.sweep(path, tmp / label.replace(" ", "_"), workers=workers, progress=False)
            timings[label] = time.perf_counter() - t
            assert report.complete, report.failed[:1]

    machine = machine_efficiency()
    n = args.runs

    def rpm(seconds: float) -> float:
        return n / seconds * 60

    print(
        f"sweep throughput: {n} runs, users.count={args.users}, steps={args.steps}, "
        f"{cores} usable cores, warm-up {warm:.2f} s (once per process)"
    )
    print(
        f"  plain loop (this process)   {plain:8.2f} s  {rpm(plain):8.1f} runs/min  "
        f"({plain / n * 1000:.0f} ms per run)"
    )
    for label, seconds in timings.items():
        print(f"  sweep, {label:<20} {seconds:8.2f} s  {rpm(seconds):8.1f} runs/min")
    overhead_inline = timings["inline"] / plain - 1
    overhead_1 = timings["1 worker"] / plain - 1
    efficiency = timings["1 worker"] / (2 * timings["2 workers"])
    print(f"  runner overhead, in process vs plain loop:  {overhead_inline:+7.1%}  (target <= 5%)")
    print(
        f"  runner overhead, 1 worker vs plain loop:    {overhead_1:+7.1%}  (includes spawning and warming "
        "the worker)"
    )
    print(f"  parallel efficiency on 2 workers:           {efficiency:7.1%}  (target >= 85%)")
    print(
        f"  the machine's own ceiling (a CPU loop on 2 processes): {machine:5.1%}  "
        "(below 100% when the cores are shared or throttled)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
