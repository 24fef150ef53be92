"""The compiled repricing round (aimarket.simulation.kernels.rounds) equals its plain-Python reference to 1e-12,
and in a model run it gives, bit for bit, what asking each lab's strategy in turn gives."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from test_kernels import RTOL, SETTINGS, markets

from aimarket.agents.strategies import OptimiseStrategy
from aimarket.simulation import equilibrium, kernels
from aimarket.simulation.kernels import rounds
from aimarket.simulation.reference import rounds as reference_rounds
from aimarket.simulation.run import simulate
from aimarket.simulation.scenario.loading import load_scenario


@given(markets(max_users=20, max_offers=5), st.booleans(), st.sampled_from([1.0, 0.8]), st.integers(0, 31),
       st.floats(0.0, 0.9))
@SETTINGS
def test_reprice_round_matches_reference(market, kept, keep, updates, cost_share):
    gross, mu, switching, provider, outside, price, owner = market
    labs = np.array(sorted({int(o) for o in owner if o >= 0}), dtype=np.int64)
    assume(labs.size > 0)
    cost = price * cost_share
    logsum = kernels.rival_log_sums(*market, rounds.NO_OWNER) if kept else np.empty(mu.size)
    new_price = price.copy()
    state = np.array([kept, updates], dtype=np.int64)
    share, profit, iterations = np.zeros(price.size), np.zeros(labs.size), np.zeros(labs.size, dtype=np.int64)
    change = np.zeros(labs.size)
    failed, outcome = rounds.reprice_round(gross, mu, switching, provider, outside, new_price, owner, cost, keep, 3.0,
                                           labs, logsum.copy(), state, 1e-12, 500, share, profit, iterations, change)
    with np.errstate(over="ignore", invalid="ignore"):
        ref_price, ref_share, ref_profit, ref_iterations, ref_failed = reference_rounds.reprice_round(
            gross.tolist(), mu.tolist(), switching.tolist(), provider.tolist(), outside.tolist(), price.tolist(),
            owner.tolist(), cost.tolist(), keep, 3.0, labs.tolist(), logsum.tolist() if kept else None, updates)
    assume(outcome != rounds.NOT_FINITE)  # the wrapper's caller reports it; the reference has no such check
    assert failed == ref_failed and (outcome == rounds.FAILED) == (ref_failed >= 0)
    assert iterations[:len(ref_iterations)].tolist() == ref_iterations
    np.testing.assert_allclose(new_price, ref_price, rtol=RTOL)
    np.testing.assert_allclose(share, ref_share, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(profit[:len(ref_profit)], ref_profit, rtol=1e-10, atol=1e-300)
    for position, lab in enumerate(labs[:len(ref_profit)]):  # each lab's change against the prices it started from
        own = owner == lab
        expected = np.max(np.abs(new_price[own] - price[own]) / np.maximum(np.abs(price[own]), 1e-300))
        np.testing.assert_allclose(change[position], expected, rtol=1e-9)


def test_a_round_keeps_the_prices_of_offers_no_lab_reprices():
    gross, mu, switching, provider, outside = np.ones((4, 3)), np.ones(4), np.zeros(4), np.full(4, -1), np.zeros(4)
    price, owner = np.array([2.0, 3.0, 0.5]), np.array([0, 1, -1])
    state = np.array([0, 0])
    rounds.reprice_round(gross, mu, switching, provider, outside, price, owner, np.full(3, 0.1), 1.0, 1.0,
                         np.array([0]), np.empty(4), state, 1e-12, 500, np.zeros(3), np.zeros(1),
                         np.zeros(1, dtype=np.int64), np.zeros(1))
    assert price[1] == 3.0 and price[2] == 0.5 and price[0] != 2.0
    assert state.tolist() == [1, 1]  # log-sums recomputed, then one incremental update


def test_the_compiled_round_gives_the_strategies_round_bit_for_bit(monkeypatch):
    scenario = load_scenario(None, {"users.count": 400, "run.steps": 5, "entry.arrivals": 2.0})
    compiled = simulate(scenario)
    calls = []
    original = equilibrium._compiled_round
    monkeypatch.setattr(equilibrium, "_compiled_round",
                        lambda model, search: calls.append((search, original(model, search))) or calls[-1][1])
    assert simulate(scenario).timeseries.equals(compiled.timeseries)
    ran = {search for search, residual in calls if residual is not None}
    assert ran == {True, False}  # both compiled rounds ran
    monkeypatch.setattr(OptimiseStrategy, "reprices_current_offers", lambda self: False)
    monkeypatch.setattr(OptimiseStrategy, "search_sets", lambda self, *args: None)
    asked = simulate(scenario)
    assert asked.timeseries.equals(compiled.timeseries)
    assert asked.labs.equals(compiled.labs)


def test_a_strategy_with_its_own_offers_is_always_asked():
    class Contrarian(OptimiseStrategy):
        def choose_offers(self, lab, market, task_index, k_grid, search=True):
            return super().choose_offers(lab, market, task_index, k_grid, search=True)

    assert OptimiseStrategy().reprices_current_offers()
    assert not Contrarian().reprices_current_offers()
