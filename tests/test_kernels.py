"""Every numba kernel equals its plain-Python reference (aimarket.simulation.reference) to 1e-12 relative,
and the price kernel satisfies closed forms of the logit Bertrand model."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aimarket.simulation import kernels, laws, reference
from aimarket.simulation.kernels import choice, denominators, multi_offer

RTOL = 1e-12
SETTINGS = settings(max_examples=60, deadline=None)

log_uniform = st.floats(min_value=-6.0, max_value=6.0).map(lambda x: 10.0**x)


@st.composite
def markets(draw, max_users=25, max_offers=5):
    """A random market: users with values and scales spanning 1e-6..1e6, random offers, brands and owners;
    returned as the choice kernel's arguments (gross utility, mu, switching, provider, outside, price, owner)."""
    n = draw(st.integers(1, max_users))
    m = draw(st.integers(1, max_offers))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(log_uniform)
    rng = np.random.default_rng(seed)
    value = scale * 10.0 ** rng.uniform(-1, 1, n)
    mu = value * 10.0 ** rng.uniform(-3, 1, n)
    switching = value * rng.uniform(0, 0.2, n)
    provider = rng.integers(-1, 3, n)
    outside = np.maximum(0.0, value * rng.uniform(-0.5, 0.9, n))
    quality = rng.uniform(0, 1, (n, m))  # success probability of each offer for each user's own task
    brand = rng.normal(0, 2, m)
    gross = value[:, None] * quality + mu[:, None] * brand[None, :]
    price = scale * rng.uniform(0, 1.5, m)
    owner = rng.integers(-1, 3, m)
    return gross, mu, switching, provider, outside, price, owner


@given(markets())
@SETTINGS
def test_choice_probabilities_match_reference(market):
    prob, logsum = kernels.choice_probabilities(*market)
    ref_prob, ref_logsum = reference.choice_probabilities(market[0].tolist(), *market[1:])
    np.testing.assert_allclose(prob, np.array(ref_prob), rtol=RTOL, atol=0)
    np.testing.assert_allclose(logsum, ref_logsum, rtol=RTOL, atol=1e-300)


@given(markets())
@SETTINGS
def test_shares_are_probabilities_that_sum_to_one(market):
    prob, logsum = kernels.choice_probabilities(*market)
    assert np.all(np.isfinite(prob)) and np.all(np.isfinite(logsum))
    assert np.all((prob >= 0) & (prob <= 1))
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@given(markets(), st.integers(-1, 2))
@SETTINGS
def test_rival_log_sums_match_reference(market, lab):
    ours = kernels.rival_log_sums(*market, lab)
    ref = reference.rival_log_sums(market[0].tolist(), *market[1:], lab)
    np.testing.assert_allclose(ours, ref, rtol=RTOL, atol=1e-300)


NO_LAB = -2  # owner of no offer: the rival log-sum "without" it is the whole table's log-sum


@given(markets(), st.integers(-1, 2))
@SETTINGS
def test_incremental_log_sums_match_reference_and_the_exact_sums(market, lab):
    gross, mu, switching, provider, outside, price, owner = market
    total = kernels.rival_log_sums(*market, NO_LAB)
    rival = denominators.remove_lab(*market, lab, total)
    ref = reference.remove_lab(gross.tolist(), *market[1:], lab, total)
    slack = 1e-13 * (1.0 + np.abs(total))  # L + log1p(-S) near 0 has no relative slack: L_i's rounding
    assert np.all(np.abs(rival - np.asarray(ref)) <= RTOL * slack / 1e-13)
    exact = kernels.rival_log_sums(*market, lab)
    assert np.all(np.abs(rival - exact) <= slack)
    own = owner == lab
    is_provider = (provider == lab) & (lab >= 0)  # no switching bonus on self-hosting (owner -1)
    back = denominators.add_offers(exact, gross[:, own], mu, switching, is_provider, price[own])
    ref_back = reference.add_offers(exact, gross[:, own].tolist(), mu, switching, is_provider, price[own])
    np.testing.assert_allclose(back, ref_back, rtol=RTOL, atol=1e-300)
    assert np.all(np.abs(back - total) <= slack)


@given(markets(max_offers=4), st.integers(1, 3))
@SETTINGS
def test_best_response_prices_match_reference(market, tiers):
    gross, mu, switching, provider, outside, price, owner = market
    lab = 0
    rival = kernels.rival_log_sums(*market, lab)
    n = mu.size
    rng = np.random.default_rng(n)
    value = mu * 10.0 ** rng.uniform(-1, 3, n)
    own_gross = value[:, None] * rng.uniform(0, 1, (n, tiers)) + mu[:, None] * rng.normal(0, 1, tiers)
    own_cost = float(np.median(value)) * rng.uniform(0, 0.5, tiers)
    init = own_cost * rng.uniform(0.5, 2.0, tiers)
    is_provider = provider == lab
    prices, shares, iterations = kernels.best_response_prices(own_gross, mu, switching, is_provider, rival,
                                                              own_cost, init)
    with np.errstate(over="ignore", invalid="ignore"):  # rejected trial steps may overflow, as in the kernel
        ref_prices, ref_shares, ref_iterations = reference.best_response_prices(
            own_gross.tolist(), mu, switching, is_provider, rival, own_cost, init)
    assert iterations == ref_iterations
    assert iterations > 0  # both converged (a shared failure must not pass)
    np.testing.assert_allclose(prices, ref_prices, rtol=RTOL)
    np.testing.assert_allclose(shares, ref_shares, rtol=1e-10, atol=1e-300)


@given(markets(max_offers=4), st.integers(2, 3), st.floats(0.5, 2.0))
@SETTINGS
def test_warm_started_prices_match_reference_and_the_cold_solution(market, tiers, start):
    """A warm start (a repricing round) from the cold solution's prices times ``start``: the kernel equals
    the reference, and from the cold solution itself (start 1) it stays at that solution."""
    gross, mu, switching, provider, outside, price, owner = market
    rival = kernels.rival_log_sums(*market, 0)
    n = mu.size
    rng = np.random.default_rng(n + tiers)
    value = mu * 10.0 ** rng.uniform(-1, 3, n)
    own_gross = value[:, None] * rng.uniform(0, 1, (n, tiers)) + mu[:, None] * rng.normal(0, 1, tiers)
    own_cost = float(np.median(value)) * rng.uniform(0, 0.5, tiers)
    is_provider = provider == 0
    cold, cold_shares, cold_iterations = kernels.best_response_prices(own_gross, mu, switching, is_provider, rival,
                                                                      own_cost, own_cost * 1.5)
    assert cold_iterations > 0
    init = own_cost + (cold - own_cost) * start
    prices, shares, iterations = kernels.best_response_prices(own_gross, mu, switching, is_provider, rival,
                                                              own_cost, init, warm=True)
    with np.errstate(over="ignore", invalid="ignore"):
        ref_prices, ref_shares, ref_iterations = reference.best_response_prices(
            own_gross.tolist(), mu, switching, is_provider, rival, own_cost, init, warm=True)
    assert iterations == ref_iterations
    assert iterations > 0
    np.testing.assert_allclose(prices, ref_prices, rtol=RTOL)
    np.testing.assert_allclose(shares, ref_shares, rtol=1e-10, atol=1e-300)
    stay, stay_shares, _ = kernels.best_response_prices(own_gross, mu, switching, is_provider, rival, own_cost, cold,
                                                        warm=True)
    # Where profit is flat (a tier with a small share), Newton stops once FLAT_STEPS steps raise profit by
    # at most FLAT_PROFIT: profit is pinned to that, prices only to about its square root (a quadratic
    # maximum). Python 3.12's numpy stopped the cold solve 2.6e-8 (relative) away from where the warm one did.
    cold_profit = float(np.sum((cold - own_cost) * cold_shares))
    stay_profit = float(np.sum((stay - own_cost) * stay_shares))
    assert stay_profit >= cold_profit * (1 - multi_offer.FLAT_STEPS * multi_offer.FLAT_PROFIT)
    active = shares >= 1e-9
    np.testing.assert_allclose(stay[active], cold[active], rtol=10 * math.sqrt(multi_offer.FLAT_PROFIT))


@given(st.lists(st.floats(1e20, 1e28), min_size=1, max_size=4),
       st.lists(st.floats(1.0, 1e6), min_size=1, max_size=3),
       st.lists(st.floats(1.0, 1e6), min_size=1, max_size=5),
       st.floats(1e15, 1e20))
@SETTINGS
def test_marginal_costs_match_reference(raw_flop, tokens, k_grid, fpd):
    active = [laws.active_parameters(c, 0.25) for c in raw_flop]
    assert active == [reference.active_parameters(c, 0.25) for c in raw_flop]
    ours = kernels.marginal_costs(np.array(active), np.array(tokens), np.array(k_grid), fpd)
    np.testing.assert_allclose(ours, np.array(reference.marginal_costs(active, tokens, k_grid, fpd)), rtol=RTOL)


@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 2**32 - 1), st.floats(0.05, 3.0))
@SETTINGS
def test_gross_utility_matches_reference(n, m, seed, width):
    """v_i P(E_o; d_i) + mu_i xi_o, with each user's own task difficulty (L6, D1)."""
    rng = np.random.default_rng(seed)
    eoom, brand = rng.uniform(20, 32, m), rng.normal(0, 3, m)
    value = 10.0 ** rng.uniform(-4, 4, n)
    mu, difficulty = value * rng.uniform(0.01, 1, n), rng.uniform(20, 32, n)
    ours = kernels.gross_utility(eoom, brand, value, mu, difficulty, width)
    ref = reference.gross_utility(eoom, brand, value, mu, difficulty, width)
    np.testing.assert_allclose(ours, np.array(ref), rtol=RTOL, atol=1e-300)


@given(st.floats(1e18, 1e30), st.floats(0.01, 100), st.floats(20, 30), st.floats(0, 1),
       st.floats(1, 1e6), st.floats(0, 2), st.floats(0.05, 10), st.floats(15, 35), st.floats(0.05, 3))
@SETTINGS
def test_scalar_laws_match_reference(raw, algo, wall, rho, k, alpha, kappa, difficulty, width):
    wall = wall - 2.0  # the wall is in log10 raw FLOP (18-28)
    assert math.isclose(laws.pretraining_eoom(raw, algo, wall, rho), reference.pretraining_eoom(raw, algo, wall, rho),
                        rel_tol=RTOL)
    assert math.isclose(laws.inference_gain(k, alpha, kappa), reference.inference_gain(k, alpha, kappa),
                        rel_tol=RTOL, abs_tol=1e-300)
    e = laws.pretraining_eoom(raw, algo, wall, rho)
    assert math.isclose(laws.success_probability(e, difficulty, width),
                        reference.success_probability(e, difficulty, width), rel_tol=RTOL, abs_tol=1e-300)


def test_sample_providers_matches_reference():
    rng = np.random.default_rng(3)
    prob = rng.dirichlet(np.ones(5), size=200)
    owner = np.array([4, 7, 7, -1])
    uniform = rng.random(200)
    ours = kernels.sample_providers(prob, uniform, owner)
    assert list(ours) == reference.sample_providers(prob.tolist(), uniform.tolist(), owner.tolist())
    assert set(ours) <= {4, 7, -1}


def test_extreme_scales_stay_finite():
    value = np.array([1e-6, 1.0, 1e6])
    mu = np.array([1e-6, 1e6, 1e-6]) * 1e-0
    gross = value[:, None] * np.array([0.9, 0.1])[None, :]
    prob, logsum = kernels.choice_probabilities(gross, mu, np.zeros(3), np.full(3, -1), np.zeros(3),
                                                np.array([1e-7, 1e5]), np.array([0, 1]))
    assert np.all(np.isfinite(prob)) and np.all(np.isfinite(logsum))
    np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("share_of_outside", [0.1, 0.5, 0.9])
def test_single_offer_homogeneous_markup_closed_form(share_of_outside):
    """Homogeneous users: p - c = mu / (1 - s) (logit Bertrand, single product)."""
    n = 50
    value, mu = np.full(n, 20.0), np.full(n, 4.0)
    rival = np.full(n, math.log(share_of_outside * 10))
    prices, shares, iterations = kernels.best_response_prices((value * 0.6)[:, None], mu, np.zeros(n),
                                                              np.zeros(n, bool), rival, np.array([3.0]),
                                                              np.array([0.0]))
    assert iterations > 0
    assert math.isclose(prices[0] - 3.0, 4.0 / (1.0 - shares[0]), rel_tol=1e-10)


def test_multi_offer_homogeneous_markups_equal_mu_over_one_minus_lab_share():
    """Multi-product logit: every offer of the lab has markup mu / (1 - sum of the lab's shares)."""
    n = 40
    value, mu = np.full(n, 10.0), np.full(n, 1.5)
    rival = np.full(n, 2.0)
    prices, shares, iterations = kernels.best_response_prices(
        value[:, None] * np.array([0.3, 0.6, 0.8])[None, :], mu, np.zeros(n), np.zeros(n, bool), rival,
        np.array([0.5, 1.0, 2.5]), np.array([1.0, 2.0, 3.0]))
    assert iterations > 0
    markups = prices - np.array([0.5, 1.0, 2.5])
    np.testing.assert_allclose(markups, 1.5 / (1.0 - shares.sum()), rtol=1e-10)


def test_best_response_is_a_profit_maximum():
    """The solved price beats nearby prices for the same rivals (checked by evaluating profit)."""
    rng = np.random.default_rng(0)
    n = 300
    value = 20 * rng.lognormal(0, 1, n)
    mu = 0.2 * value
    rival = rng.normal(0, 1, n)
    quality, cost = np.array([0.7]), np.array([2.0])
    prices, _, _ = kernels.best_response_prices((value * quality[0])[:, None], mu, np.zeros(n), np.zeros(n, bool),
                                                rival, cost, np.array([0.0]))

    def profit(p):
        z = (value * quality[0] - p) / mu
        return (p - cost[0]) * np.mean(1 / (1 + np.exp(rival - z)))

    best = profit(prices[0])
    for factor in (0.9, 0.99, 0.999, 1.001, 1.01, 1.1):
        assert profit(prices[0] * factor) < best


def test_price_solver_converges_where_profit_is_not_concave():
    """A market from a default-scenario run (step 16, an entrant on chat, value_sigma 1.4) where the
    first-order condition's slope is positive at the warm start: the bracketed Newton solver must still
    converge, to a local profit maximum (F changes sign from + to -)."""
    data = np.load(Path(__file__).parent / "data" / "nonconcave_price.npz")
    value, mu, switching, is_provider, rival, quality, cost, price_init = (
        data[k] for k in ("value", "mu", "switching", "is_provider", "rival", "quality", "cost", "price_init"))
    args = [(value * quality[0])[:, None], mu, switching, is_provider, rival, cost, price_init]
    prices, shares, iterations = kernels.best_response_prices(*args)
    assert 0 < iterations < 50

    def profit(p):
        z = (value * quality[0] - p + np.where(is_provider, switching, 0.0)) / mu
        return (p - cost[0]) * np.mean(1.0 / (1.0 + np.exp(rival - z)))

    best = profit(prices[0])
    assert best > 0
    for factor in (0.99, 0.999, 1.001, 1.01):
        assert profit(cost[0] + (prices[0] - cost[0]) * factor) < best
    ref_prices, _, ref_iterations = reference.best_response_prices(*[a.tolist() if a.ndim else a for a in args])
    assert ref_iterations == iterations
    np.testing.assert_allclose(prices, ref_prices, rtol=RTOL)


@pytest.mark.parametrize("start", [0.05, 20.0])
def test_single_offer_best_response_is_global_across_two_peaks(start):
    """A mass market of low-value users and a niche of high-value ones: profit has two peaks in the
    markup. From a start near either one, the solver returns the better, checked on a fine grid."""
    value = np.concatenate([np.full(600, 1.0), np.full(30, 60.0)])
    mu = 0.05 * value
    n = value.size
    rival = np.zeros(n)
    quality, cost = np.array([0.9]), np.array([0.1])

    def profit(markup):
        z = (value * quality[0] - cost[0] - markup) / mu
        return markup * np.mean(1.0 / (1.0 + np.exp(np.clip(rival - z, -700, 700))))

    grid = np.geomspace(1e-3, 100.0, 200_001)
    best_on_grid = max(profit(m) for m in grid[::10])
    prices, _, iterations = kernels.best_response_prices((value * quality[0])[:, None], mu, np.zeros(n),
                                                         np.zeros(n, bool), rival, cost, cost + start)
    assert iterations > 0
    assert profit(prices[0] - cost[0]) >= best_on_grid * (1 - 1e-9)


def test_two_offer_passes_are_the_general_ones_bit_for_bit():
    """Two offers (the default tiers) take passes written out with their sums in registers; they must give
    the bits of the general passes."""
    rng = np.random.default_rng(3)
    odds, inv_mu, markup = rng.normal(-1, 3, (300, 2)), 1 / rng.uniform(0.1, 5, 300), np.array([0.7, 2.5])
    terms = np.zeros(1, dtype=np.int64)
    general, two = [np.empty(2), np.empty(2), np.empty((2, 2))], [np.empty(2), np.empty(2), np.empty((2, 2))]
    profit = multi_offer._lab_profit_terms_any(odds, inv_mu, markup, *general, np.empty(2), np.empty(2), terms)
    assert multi_offer._lab_profit_terms_two(odds, inv_mu, markup, *two, terms) == profit
    assert all(np.array_equal(a, b) for a, b in zip(general, two, strict=True))
    shares = np.empty(2)
    multi_offer._lab_shares(odds, inv_mu, markup, shares, np.empty(2), terms)
    assert np.array_equal(shares, general[0])


def test_an_offer_a_user_buys_for_sure_still_converges():
    """Found by hypothesis: one user with a tiny logit scale buys the third offer for sure, so that offer's
    profit curvature cancels to exactly zero and no Levenberg-Marquardt shift scaled by it made the system
    positive definite (the solve failed). Its scaling is now at least CURVATURE_FLOOR of the largest."""
    mu = np.array([0.27342381, 0.11796265, 0.13675302, 0.00041889])
    market = (np.array([[5.99106414, 4.68056842], [2.07207252, 0.31082959], [1.04681689, 0.62473175],
                        [0.20481048, 0.22124594]]), mu, np.array([0.32012988, 0.20674989, 0.1865177, 0.00114423]),
              np.array([1, 1, 1, 2]), np.array([5.7269904, 0.0, 0.50060355, 0.01213135]),
              np.array([0.08140808, 0.21635511]), np.array([-1, 0]))
    rival = kernels.rival_log_sums(*market, 0)
    rng = np.random.default_rng(mu.size)
    value = mu * 10.0 ** rng.uniform(-1, 3, mu.size)
    own_gross = value[:, None] * rng.uniform(0, 1, (mu.size, 3)) + mu[:, None] * rng.normal(0, 1, 3)
    own_cost = float(np.median(value)) * rng.uniform(0, 0.5, 3)
    init = own_cost * rng.uniform(0.5, 2.0, 3)
    is_provider = market[3] == 0
    prices, shares, iterations = kernels.best_response_prices(own_gross, mu, market[2], is_provider, rival, own_cost,
                                                              init)
    assert iterations > 0
    with np.errstate(over="ignore", invalid="ignore"):
        ref_prices, _, ref_iterations = reference.best_response_prices(own_gross.tolist(), mu, market[2], is_provider,
                                                                       rival, own_cost, init)
    assert ref_iterations == iterations
    np.testing.assert_allclose(prices, ref_prices, rtol=RTOL)


@given(markets(max_offers=5))
@SETTINGS
def test_lab_probabilities_are_the_choice_probabilities_summed_bit_for_bit(market):
    gross, mu, switching, provider, outside, price, owner = market
    prob, _ = kernels.choice_probabilities(*market)
    columns = [slice(0, 0), slice(0, price.size), slice(price.size - 1, price.size)]
    ours = choice.lab_probabilities(*market, columns)
    assert np.array_equal(ours, np.stack([prob[:, c].sum(axis=1) for c in columns], axis=1))


def test_row_sum_has_the_bits_of_numpy_for_every_count():
    values = np.random.default_rng(5).random(40) * 10.0 ** np.random.default_rng(6).uniform(-8, 8, 40)
    for count in range(0, 30):
        assert choice._row_sum(values, 3, 3 + count) == values[None, 3:3 + count].sum(axis=1)[0], count

