"""Step and run time of the default scenario, kernel speed against the plain-Python reference,
and numba compile time cold and from the cache. Prints its figures; numba compilation is kept out
of the timed figures by a warm-up run.

    python benchmarks/step_time.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date

import numpy as np

from aimarket.simulation import kernels, reference
from aimarket.simulation.model import MarketModel
from aimarket.simulation.run import simulate, warm_up
from aimarket.simulation.scenario_io import load_scenario

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
    args = (value, 0.2 * value, 0.05 * value, rng.integers(-1, 4, n_users), np.maximum(0, 0.9 * value - 50),
            rng.uniform(0, 1, n_offers), rng.uniform(1, 30, n_offers), rng.integers(-1, 4, n_offers))
    rival = kernels.rival_log_sums(*args, 0)
    price_args = (value, 0.2 * value, 0.05 * value, args[3] == 0, rival, np.array([0.7]), np.array([2.0]),
                  np.array([5.0]))

    def timed(choice, prices, repeats):
        start = time.perf_counter()
        for _ in range(repeats):
            choice(*args)
            prices(*price_args)
        return (time.perf_counter() - start) / repeats

    fast = timed(kernels.choice_probabilities, kernels.best_response_prices, 50)
    slow = timed(reference.choice_probabilities, reference.best_response_prices, 2)
    return fast, slow


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="whole default runs to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        cold = compile_seconds(cache)
        cached = compile_seconds(cache)
    warm_up()
    scenario = load_scenario(None)
    per_step = step_times(scenario.run.steps)
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        simulate(scenario)
        runs.append(time.perf_counter() - start)
    fast, slow = kernel_speed_ratio()
    print(f"aimarket step-time benchmark, {date.today()}, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, {os.cpu_count()} cores (numba kernels run on one core)")
    print(f"default scenario: {scenario.users.count} users, {len(scenario.labs.roster)} labs, "
          f"{len(scenario.tasks)} task types, {scenario.run.steps} steps")
    print(f"median wall time per step:          {statistics.median(per_step) * 1e3:8.1f} ms "
          f"(min {min(per_step) * 1e3:.1f}, max {max(per_step) * 1e3:.1f})")
    print(f"whole default run (median of {args.repeats}):   {statistics.median(runs):8.2f} s  (target <= 5 s)")
    print(f"kernels, 2000 users x 8 offers:     {fast * 1e3:8.2f} ms numba vs {slow * 1e3:.0f} ms reference "
          f"-> {slow / fast:.0f}x faster")
    print(f"numba compile, cold cache:          {cold:8.2f} s")
    print(f"numba compile, warm cache:          {cached:8.2f} s")


if __name__ == "__main__":
    main()
