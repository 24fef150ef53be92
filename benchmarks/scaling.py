"""How a round of best responses scales with users and labs: CPU time per round and log-log slopes.

    .venv/bin/python benchmarks/scaling.py [--users 5000,10000,20000,40000,80000] [--labs 4,8,16,32]

One task type of the default scenario (its first, with the default users' values and difficulties) and
``L`` synthetic labs, each selling two tiers (full model at k = 1 and k = 10; capabilities spread over
1.5 eOOM, equal brand). After two untimed rounds (prices near the equilibrium, numba compiled), it
times rounds of the two kinds a step runs (docs/ODD.md §7.6), each as the model runs it, one compiled call
for the market (simulation/market_rounds.py): a *repricing* round (every lab re-solves its current
products, warm-started) and a *search* round (every lab screens its current products and four
neighbours, moving one tier one grid step, then solves the best), CPU seconds, median of ``--repeats``.
The slope of log(time per round) against log(labs) is 1 when a best response costs O(users x the lab's
offers) (a round has L of them) and 2 when it costs O(users x all offers); against log(users) it is 1.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

from aimarket.simulation import market_rounds
from aimarket.simulation.market import FULL, TaskMarket, Variants
from aimarket.simulation.model import MarketModel
from aimarket.simulation.scenario.loading import load_scenario

K_GRID = (1.0, 10.0 ** 0.5, 10.0, 10.0 ** 1.5)


def make_market(users: int, labs: int) -> tuple[TaskMarket, list[Variants]]:
    """A market of about ``users`` users (the default's user draw, scaled so that the first task type has them)."""
    base = load_scenario(None)
    share = base.users.task_mix[0] if base.users.task_mix else 1 / len(base.tasks)
    model = MarketModel(load_scenario(None, {"users.count": int(round(users / share))}), seed=1)
    s = model.config
    task = s.tasks[0]
    market = TaskMarket(task, model.users.of_task(0), float(model.trends.tasks_per_step[0]), model.trends.serving_fpd,
                        s.labs.price_tolerance, s.labs.price_iterations, math.inf, {}, s.labs.opex_revenue_share)
    top = max(lab.deployed.eoom_pre for lab in model.labs)
    active = max(lab.deployed.active_params for lab in model.labs)
    variants = [Variants((top - 1.5 * j / max(1, labs - 1), top - 0.3 - 1.5 * j / max(1, labs - 1)),
                         (active, active / 4)) for j in range(labs)]
    rows = []
    for lab, v in enumerate(variants):
        products = ((FULL, K_GRID[0]), (FULL, K_GRID[2]))
        eoom, cost = market.product_terms(v, products)
        rows += [(lab, variant, k, e, c, c + float(np.mean(market.users.mu)))
                 for (variant, k), e, c in zip(products, eoom, cost, strict=True)]
    market.set_offers(*zip(*rows, strict=True))
    return market, variants


def neighbours(products):
    sets = {products}
    for tier, (variant, k) in enumerate(products):
        j = K_GRID.index(k)
        for step in (-1, 1):
            if 0 <= j + step < len(K_GRID):
                trial = tuple(sorted(products[:tier] + ((variant, K_GRID[j + step]),) + products[tier + 1:]))
                if len(set(trial)) == len(trial):
                    sets.add(trial)
    return sorted(sets)


def one_round(market: TaskMarket, variants: list[Variants], search: bool) -> float:
    """CPU seconds of one round of every lab's best response, as the model runs it: one compiled call for the
    market (simulation/market_rounds.py), with the candidate sets and price hints built in Python first."""
    start = time.process_time()
    labs = list(range(len(variants)))
    current = [tuple((int(market.variant[o]), float(market.k[o])) for o in market.offers_of(lab)) for lab in labs]
    if search:
        hints = []
        for lab, products in zip(labs, current, strict=True):
            rows = market.offers_of(lab)
            prices = {p: float(market.price[o]) for p, o in zip(products, rows, strict=True)}
            markup = float(np.mean(market.price[rows] - market.cost[rows]))
            hints.append(lambda product, cost, prices=prices, markup=markup: prices.get(product, cost + markup))
        done = market_rounds.search_round(market, labs, variants, [neighbours(p) for p in current], hints)
    else:
        done = market_rounds.reprice_round(market, labs, current)
    if done.failed >= 0:
        raise RuntimeError(f"lab {done.failed}'s best response did not converge")
    return time.process_time() - start


def slope(xs, ys) -> float:
    return float(np.polyfit(np.log(xs), np.log(ys), 1)[0])


def measure(users: int, labs: int, repeats: int) -> tuple[float, float]:
    market, variants = make_market(users, labs)
    one_round(market, variants, True)
    one_round(market, variants, False)
    reprice = statistics.median(one_round(market, variants, False) for _ in range(repeats))
    search = statistics.median(one_round(market, variants, True) for _ in range(repeats))
    return reprice, search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="5000,10000,20000,40000,80000")
    parser.add_argument("--labs", default="4,8,16,32")
    parser.add_argument("--fixed-users", type=int, default=10000, help="users in the lab sweep")
    parser.add_argument("--fixed-labs", type=int, default=8, help="labs in the user sweep")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    users = [int(x) for x in args.users.split(",")]
    labs = [int(x) for x in args.labs.split(",")]
    print(f"scaling of a best-response round (one task type, 2 tiers per lab), CPU s per round, median of "
          f"{args.repeats}")
    for name, sizes, run in (("users", users, lambda x: measure(x, args.fixed_labs, args.repeats)),
                             ("labs", labs, lambda x: measure(args.fixed_users, x, args.repeats))):
        fixed = f"{args.fixed_labs} labs" if name == "users" else f"{args.fixed_users} users"
        results = [run(x) for x in sizes]
        for x, (reprice, search) in zip(sizes, results, strict=True):
            print(f"  {name} {x:6d} ({fixed}): repricing round {reprice * 1e3:8.1f} ms, search round "
                  f"{search * 1e3:8.1f} ms")
        print(f"  log-log slope over {name}: repricing {slope(sizes, [r for r, _ in results]):.2f}, "
              f"search {slope(sizes, [s for _, s in results]):.2f}"
              + ("  (target for labs: at most 1.05)" if name == "labs" else ""))


if __name__ == "__main__":
    main()
