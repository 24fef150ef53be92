"""Incremental logit denominators (docs/ODD.md §7.6 "Incremental denominators").

A market keeps every user's log-sum over the whole offer table (outside option included),

    L_i = log(exp(u_i0 / mu_i) + sum_o exp(u_io / mu_i)),   u_io as in D1 (docstring of the kernels package),

and a best response of lab ``l`` needs the rivals' part ``R_i`` of it (the log-sum without ``l``'s
offers). Instead of summing over every rival offer (O(users x offers)) it is obtained from ``L_i`` by
removing the lab's own terms,

    R_i = L_i + log(1 - S_i),   S_i = sum_{o: owner_o = l} exp(u_io / mu_i - L_i)   (the lab's share),

which costs O(users x the lab's offers). Where ``S_i > EXACT_SHARE`` the subtraction would lose digits
(1 - S_i is small), so ``R_i`` is recomputed exactly over the rival offers for that user. When the lab's
offers change, ``L_i = logaddexp(R_i, log sum_{new o} exp(u_io / mu_i))``.
The same inputs give the same bits; the market recomputes every ``L_i`` exactly whenever its table is
set and after ``REFRESH_UPDATES`` incremental updates (simulation/market.py), so rounding does not
accumulate. The plain-Python references are in :mod:`aimarket.simulation.reference.denominators`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aimarket.simulation.kernels.choice import _rival_row
from aimarket.simulation.kernels.inputs import _vector, price_inputs, table_inputs
from aimarket.simulation.kernels.terms import LOGIT_TERMS
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed

EXACT_SHARE = 0.5  # a user's share of the removed lab above which R_i is recomputed exactly
REFRESH_UPDATES = 32  # incremental updates of a market's log-sums between exact recomputations


@njit(cache=True)
def _remove_lab_kernel(gross, mu, inv_mu, switching, provider, outside, price, owner, lab, logsum, out, terms):
    """out[i] = L_i + log1p(-S_i), or the exact rival log-sum where S_i > EXACT_SHARE (see module);
    ``inv_mu`` = 1 / mu. The lab's columns are found once, so a user costs O(the lab's offers), not O(offers)."""
    own = np.empty(price.shape[0], dtype=np.int64)
    t = 0
    for o in range(price.shape[0]):
        if owner[o] == lab:
            own[t] = o
            t += 1
    for i in range(gross.shape[0]):
        bonus = switching[i] if lab >= 0 and provider[i] == lab else 0.0  # the lab's offers' owner is the lab
        share = 0.0
        for j in range(t):
            o = own[j]
            share += math.exp((gross[i, o] - price[o] + bonus) * inv_mu[i] - logsum[i])
        if share <= EXACT_SHARE:
            out[i] = logsum[i] + math.log1p(-share)
        else:
            out[i] = _rival_row(gross, mu, switching, provider, outside, price, owner, lab, i, terms)
    terms[0] += gross.shape[0] * t


@njit(cache=True)
def _add_offers_kernel(rival, gross, inv_mu, switching, is_provider, price, out, terms):
    """out[i] = logaddexp(R_i, log sum_o exp((g_io - p_o + s_i 1[provider_i is the lab]) / mu_i)), with
    ``inv_mu`` = 1 / mu."""
    t = price.shape[0]
    z = np.empty(t)
    for i in range(gross.shape[0]):
        bonus = switching[i] if is_provider[i] else 0.0
        z_max = rival[i]
        for o in range(t):
            z[o] = (gross[i, o] - price[o] + bonus) * inv_mu[i]
            if z[o] > z_max:
                z_max = z[o]
        total = math.exp(rival[i] - z_max)
        for o in range(t):
            total += math.exp(z[o] - z_max)
        out[i] = z_max + math.log(total)
    terms[0] += gross.shape[0] * (t + 1)


def remove_lab(gross, mu, switching, provider, outside, price, owner, lab: int, logsum, *,
               validate: bool = True) -> np.ndarray:
    """Rivals' log-sums R_i of ``lab`` (n,) from the whole table's log-sums ``logsum`` (n,)."""
    if validate:
        gross, mu, switching, provider, outside, price, owner = table_inputs(gross, mu, switching, provider, outside,
                                                                             price, owner)
        logsum = _vector(logsum, "logsum", size=mu.size)
    out = np.empty(mu.size)
    _remove_lab_kernel(gross, mu, 1.0 / mu, switching, provider, outside, price, owner, int(lab), logsum, out,
                       LOGIT_TERMS)
    return out


def add_offers(rival, gross, mu, switching, is_provider, price, *, validate: bool = True) -> np.ndarray:
    """Whole-table log-sums L_i (n,) from the rivals' ``rival`` (n,) and a lab's offers: ``gross`` (n, t)
    gross utilities and ``price`` (t,) prices; ``is_provider`` (n,) marks the lab's current customers."""
    if validate:
        gross, mu, switching, is_provider, rival, price = price_inputs(gross, mu, switching, is_provider, rival, price,
                                                                       per_offer="price")
    out = np.empty(mu.size)
    _add_offers_kernel(rival, gross, 1.0 / mu, switching, is_provider, price, out, LOGIT_TERMS)
    return out


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
