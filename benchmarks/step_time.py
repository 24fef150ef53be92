"""Step and run time of the default scenario, the machine's exp throughput, the share of the run spent
in numba kernels, kernel speed against the plain-Python reference, and cold start. Prints its figures;
numba compilation is kept out of the timed figures by a warm-up run.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/step_time.py [--repeats 5]

* exp throughput: a compiled loop of ``math.exp`` over 2^20 values (the same call the logit kernels
  make), timed first, in this process: the machine's rate of logit terms, the "exp-count limit";
* whole default run: CPU seconds (``time.process_time``) of ``simulate`` on the packaged default
  scenario, median of ``--repeats`` after a warm-up; its logit terms (every ``exp`` the kernels
  evaluate, counted by :mod:`aimarket.simulation.kernels.terms`), the exp-count limit (terms / exp
  rate: the run's time if it did nothing but its exps) and the run's ratio to it (target <= 2);
* kernel share: under cProfile, the time inside numba kernels (their dispatchers' own time) over the
  run's; cProfile's per-call cost falls on Python, so the Python share it gives is an upper bound;
  measured on the default and on the sweep size (``--sweep-users`` users, ``--sweep-steps`` steps);
* cold start: wall time of ``aimarket run --steps 1`` with an empty numba cache and with a warm one.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from numba import njit

from aimarket.simulation import kernels, reference
from aimarket.simulation.model import MarketModel
from aimarket.simulation.run import simulate, warm_up
from aimarket.simulation.scenario.loading import load_scenario

EXP_VALUES = 1 << 20


@njit(cache=True)
def _exp_loop(z, repeats):
    """sum of exp(z_j) over ``repeats`` passes: the exp throughput of a logit kernel's inner loop."""
    total = 0.0
    for _ in range(repeats):
        for j in range(z.shape[0]):
            total += math.exp(z[j])
    return total


def exp_rate(seconds: float = 1.0) -> float:
    """exps per CPU second of one core (best of 3 timings of about ``seconds``)."""
    z = np.random.default_rng(0).uniform(-20.0, 0.0, EXP_VALUES)
    _exp_loop(z, 1)
    repeats = max(1, int(seconds * 2e8 / EXP_VALUES))
    best = math.inf
    for _ in range(3):
        start = time.process_time()
        _exp_loop(z, repeats)
        best = min(best, time.process_time() - start)
    return repeats * EXP_VALUES / best


def kernel_functions() -> set[tuple[str, str]]:
    """(file, name) of every numba kernel of the package (for cProfile's table)."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    found = set()
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for name, obj in vars(module).items():
            if isinstance(obj, CPUDispatcher):
                found.add((obj.py_func.__code__.co_filename, name))
    return found


def kernel_share(scenario) -> float:
    """Share of ``simulate(scenario)``'s profiled time spent inside numba kernels."""
    profile = cProfile.Profile()
    profile.enable()
    simulate(scenario)
    profile.disable()
    stats = pstats.Stats(profile)
    wanted = kernel_functions()
    inside = sum(row[2] for (file, _, name), row in stats.stats.items() if (file, name) in wanted)
    return inside / stats.total_tt


def cold_start(cache_dir: str) -> float:
    """Wall seconds of ``aimarket run --steps 1`` (default scenario) with numba's cache in ``cache_dir``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("aimarket")), "run", "--steps", "1", "--quiet",
                        "--out", out], env=env, check=True, capture_output=True)
        return time.perf_counter() - start


COMPILE_SNIPPET = "import time; t = time.perf_counter(); from aimarket.simulation.run import warm_up; warm_up(); " \
                  "print(time.perf_counter() - t)"


def compile_seconds(cache_dir: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    out = subprocess.run([sys.executable, "-c", COMPILE_SNIPPET], env=env, check=True, capture_output=True,
                         text=True)
    return float(out.stdout.strip().splitlines()[-1])


def step_times(steps: int) -> list[float]:
    model = MarketModel(load_scenario(None))
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.step()
        times.append(time.perf_counter() - start)
    return times


def kernel_speed_ratio(n_users: int = 2000, n_offers: int = 8) -> tuple[float, float]:
    """Seconds per call of (choice probabilities + one best-response price solve), numba vs reference."""
    rng = np.random.default_rng(0)
    value = 20 * rng.lognormal(0, 1, n_users)
    gross = value[:, None] * rng.uniform(0, 1, (n_users, n_offers))
    users = (0.2 * value, 0.05 * value, rng.integers(-1, 4, n_users), np.maximum(0, 0.9 * value - 50))
    offers = (rng.uniform(1, 30, n_offers), rng.integers(-1, 4, n_offers))
    rival = kernels.rival_log_sums(gross, *users, *offers, 0)
    own = (0.2 * value, 0.05 * value, users[2] == 0, rival, np.array([0.7]), np.array([5.0]))
    own_gross = 0.7 * value[:, None]
    fast_args = ((gross, *users, *offers), (own_gross, *own))
    slow_args = ((gross.tolist(), *users, *offers), (own_gross.tolist(), *own))

    def timed(choice, prices, args, repeats):
        start = time.perf_counter()
        for _ in range(repeats):
            choice(*args[0])
            prices(*args[1])
        return (time.perf_counter() - start) / repeats

    fast = timed(kernels.choice_probabilities, kernels.best_response_prices, fast_args, 50)
    slow = timed(reference.choice_probabilities, reference.best_response_prices, slow_args, 2)
    return fast, slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="whole default runs to time (default 5)")
    parser.add_argument("--sweep-users", type=int, default=2000)
    parser.add_argument("--sweep-steps", type=int, default=20)
    args = parser.parse_args()
    rate = exp_rate()
    with tempfile.TemporaryDirectory() as cache:
        cold = compile_seconds(cache)
        cached = compile_seconds(cache)
        cold_run = cold_start(os.path.join(cache, "run"))
        warm_run = cold_start(os.path.join(cache, "run"))
    warm_up()
    scenario = load_scenario(None)
    per_step = step_times(scenario.run.steps)
    runs = []
    for _ in range(args.repeats):
        kernels.reset_logit_terms()
        start = time.process_time()
        simulate(scenario)
        runs.append(time.process_time() - start)
    run_cpu = statistics.median(runs)
    terms = kernels.logit_terms()  # of the last timed run (same scenario and seed: every run has the same)
    limit = terms / rate
    share_default = kernel_share(scenario)
    sweep = load_scenario(None, {"users.count": args.sweep_users, "run.steps": args.sweep_steps})
    share_sweep = kernel_share(sweep)
    fast, slow = kernel_speed_ratio()
    print(f"aimarket step-time benchmark, {date.today()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {os.cpu_count()} cores (numba kernels run on one core)")
    print(f"default scenario: {scenario.users.count} users, {len(scenario.labs.roster)} labs at the start, "
          f"{len(scenario.tasks)} task types, {scenario.run.steps} steps")
    print(f"exp throughput (compiled loop, one core):  {rate:10.3e} exp/s")
    print(f"median wall time per step:          {statistics.median(per_step) * 1e3:8.1f} ms "
          f"(min {min(per_step) * 1e3:.1f}, max {max(per_step) * 1e3:.1f})")
    print(f"whole default run, CPU s (median of {args.repeats}): {run_cpu:8.2f} s  "
          f"(runs {', '.join(f'{x:.2f}' for x in runs)})")
    print(f"logit terms of the run:             {terms:10.3e} -> exp-count limit {limit:.2f} s; the run is "
          f"{run_cpu / limit:.2f}x the limit (target <= 2)")
    print(f"time in numba kernels (cProfile):   default {share_default:6.1%}, sweep size "
          f"({args.sweep_users} users, {args.sweep_steps} steps) {share_sweep:6.1%} -> Python at most "
          f"{1 - share_sweep:.1%} (target < 20%)")
    print(f"kernels, 2000 users x 8 offers:     {fast * 1e3:8.2f} ms numba vs {slow * 1e3:.0f} ms reference "
          f"-> {slow / fast:.0f}x faster")
    print(f"numba compile, cold cache:          {cold:8.2f} s")
    print(f"numba compile, warm cache:          {cached:8.2f} s")
    print(f"aimarket run --steps 1, wall s:     {cold_run:8.2f} s empty numba cache, {warm_run:.2f} s warm cache")


if __name__ == "__main__":
    main()
