"""Step and run time of the default scenario, the machine's exp throughput, the share of the run spent
in numba kernels, kernel speed against the plain-Python reference, and cold start. Prints its figures;
numba compilation is kept out of the timed figures by a warm-up run.

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/step_time.py [--repeats 5]

* exp throughput: a compiled loop of ``math.exp`` over 2^20 values (the same call the logit kernels
  make), timed first, in this process: the machine's rate of logit terms, the "exp-count limit";
* whole default run: CPU seconds (``time.process_time``) of ``simulate`` on the packaged default
  scenario, median of ``--repeats`` after a warm-up; its logit terms (every ``exp`` the kernels
  evaluate, counted by :mod:`aimarket.simulation.kernels.terms`), the exp-count limit (terms / exp
  rate: the run's time if it did nothing but its exps) and the run's ratio to it (target <= 2). The
  machine's speed drifts by tens of percent within seconds where its cores are shared, so the exp
  rate of the ratio is measured *during* the run: after every step a burst of ``BURST_EXPS`` bare
  exps is timed (and its time taken out of the run's), and each run's ratio sets its CPU time against
  the exp rate of its own bursts; the median of the runs' ratios is printed;
* kernel share: the time inside numba kernels called from Python (each timed) over the run's, on
  the default and on the sweep size (``--sweep-users`` users, ``--sweep-steps`` steps);
* cold start: wall time of ``aimarket run --steps 1`` with an empty numba cache and with a warm one.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
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


BURST_EXPS = 1 << 22  # bare exps timed after every step of a run (about 20 ms)


def run_against_exps(scenario) -> tuple[float, float, int]:
    """``(run CPU s, exp rate [exp/s], logit terms)`` of one ``simulate(scenario)`` with a burst of
    ``BURST_EXPS`` bare exps timed after every step; the bursts' time is not the run's."""
    z = np.random.default_rng(1).uniform(-20.0, 0.0, EXP_VALUES)
    repeats = BURST_EXPS // EXP_VALUES
    burst = [0.0, 0]

    def after_step(_done: int) -> None:
        start = time.process_time()
        _exp_loop(z, repeats)
        burst[0] += time.process_time() - start
        burst[1] += repeats * EXP_VALUES

    kernels.reset_logit_terms()
    start = time.process_time()
    simulate(scenario, progress=after_step)
    total = time.process_time() - start
    return total - burst[0], burst[1] / burst[0], kernels.logit_terms()


def kernel_share(scenario, repeats: int = 3) -> float:
    """Share of ``simulate(scenario)``'s time spent inside numba kernels called from Python, median of
    ``repeats`` runs: every
    compiled function of the kernels package is wrapped, while the run lasts, in a timer that adds its
    call's time (``perf_counter``, which costs far less than a CPU-time clock; the run is timed with it too,
    and the timer's own cost counts as Python, so the Python share is if anything too high; unlike
    cProfile, which slows every Python call, it leaves the rest of the run as it is)."""
    import importlib
    import pkgutil

    from numba.core.registry import CPUDispatcher

    inside = [0.0]

    def timed(dispatcher):
        def call(*args):
            start = time.perf_counter()
            try:
                return dispatcher(*args)
            finally:
                inside[0] += time.perf_counter() - start
        return call

    patched = []
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for name, obj in list(vars(module).items()):
            if isinstance(obj, CPUDispatcher):
                patched.append((module, name, obj))
                setattr(module, name, timed(obj))
    shares = []
    try:
        for _ in range(repeats):
            inside[0] = 0.0
            start = time.perf_counter()
            simulate(scenario)
            shares.append(inside[0] / (time.perf_counter() - start))
    finally:
        for module, name, obj in patched:
            setattr(module, name, obj)
    return statistics.median(shares)


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
    parser.add_argument("--quick", action="store_true",
                        help="only the default run, its ratio to the exp-count limit and the kernel shares")
    args = parser.parse_args()
    rate = exp_rate()
    cold = cached = cold_run = warm_run = math.nan
    if not args.quick:
        with tempfile.TemporaryDirectory() as cache:
            cold = compile_seconds(cache)
            cached = compile_seconds(cache)
            cold_run = cold_start(os.path.join(cache, "run"))
            warm_run = cold_start(os.path.join(cache, "run"))
    warm_up()
    scenario = load_scenario(None)
    per_step = step_times(scenario.run.steps)
    runs, ratios, rates = [], [], []
    for _ in range(args.repeats):
        run, run_rate, terms = run_against_exps(scenario)  # same scenario and seed: every run has the same terms
        runs.append(run)
        rates.append(run_rate)
        ratios.append(run * run_rate / terms)
    run_cpu = statistics.median(runs)
    limit = terms / statistics.median(rates)
    share_default = kernel_share(scenario, repeats=1)
    sweep = load_scenario(None, {"users.count": args.sweep_users, "run.steps": args.sweep_steps})
    share_sweep = kernel_share(sweep)
    fast, slow = (math.nan, math.nan) if args.quick else kernel_speed_ratio()
    print(f"aimarket step-time benchmark, {date.today()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {os.cpu_count()} cores (numba kernels run on one core)")
    print(f"default scenario: {scenario.users.count} users, {len(scenario.labs.roster)} labs at the start, "
          f"{len(scenario.tasks)} task types, {scenario.run.steps} steps")
    print(f"exp throughput (compiled loop, one core):  {rate:10.3e} exp/s")
    print(f"median wall time per step:          {statistics.median(per_step) * 1e3:8.1f} ms "
          f"(min {min(per_step) * 1e3:.1f}, max {max(per_step) * 1e3:.1f})")
    print(f"whole default run, CPU s (median of {args.repeats}): {run_cpu:8.2f} s  "
          f"(runs {', '.join(f'{x:.2f}' for x in runs)})")
    print(f"logit terms of the run:             {terms:10.3e} -> exp-count limit {limit:.2f} s at the runs' median "
          f"exp rate {statistics.median(rates):.3e} exp/s (measured between their steps)")
    print(f"the run against its exp-count limit: {statistics.median(ratios):.2f}x (median of the runs' ratios "
          f"{', '.join(f'{x:.2f}' for x in ratios)}; target <= 2)")
    print(f"time in numba kernels (timed calls): default {share_default:6.1%}, sweep size "
          f"({args.sweep_users} users, {args.sweep_steps} steps) {share_sweep:6.1%} -> Python at most "
          f"{1 - share_sweep:.1%} (target < 20%)")
    print(f"kernels, 2000 users x 8 offers:     {fast * 1e3:8.2f} ms numba vs {slow * 1e3:.0f} ms reference "
          f"-> {slow / fast:.0f}x faster")
    print(f"numba compile, cold cache:          {cold:8.2f} s")
    print(f"numba compile, warm cache:          {cached:8.2f} s")
    print(f"aimarket run --steps 1, wall s:     {cold_run:8.2f} s empty numba cache, {warm_run:.2f} s warm cache")


if __name__ == "__main__":
    main()
