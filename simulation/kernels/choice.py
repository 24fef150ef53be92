"""Demand kernels (docs/ODD.md §7.4, L6 and D1-D2): gross utility, logit choice, the rivals' part of the
logit denominator, the log-odds of a lab's offers against it, and the users' draws of a provider.
The conventions (users, offers, utility) are in the package docstring, :mod:`aimarket.simulation.kernels`;
the plain-Python references are in :mod:`aimarket.simulation.reference.choice`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aimarket.simulation.kernels.inputs import _vector, table_inputs
from aimarket.simulation.kernels.terms import LOGIT_TERMS
from aimarket.simulation.laws import success_probability
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed

NO_OWNER = -2  # an owner id no offer has: the rival log-sum "without" it is the whole table's log-sum


@njit(cache=True)
def _gross_utility_kernel(eoom, brand, value, mu, difficulty, width, out, terms):
    """out[i, o] = v_i * P(E_o; d_i, w) + mu_i * xi_o, with the task success law (L6)
    ``P = 1 / (1 + exp(-(E_o - d_i) / w))`` at the user's own difficulty ``d_i``."""
    for i in range(value.shape[0]):
        for o in range(eoom.shape[0]):
            out[i, o] = value[i] * success_probability(eoom[o], difficulty[i], width) + mu[i] * brand[o]
    terms[0] += value.shape[0] * eoom.shape[0]


def gross_utility(eoom, brand, value, mu, difficulty, width: float, *, validate: bool = True) -> np.ndarray:
    """Gross utility ``v_i P_i(E_o) + mu_i xi_o`` [$] of offers of capability ``eoom`` (m,) [eOOM] and
    brand ``brand`` (m,) [logit units] to users of value ``value``, scale ``mu`` [$] and task
    difficulty ``difficulty`` [eOOM] (n,); ``width`` is the success curve's width [eOOM]. Returns (n, m).
    ``validate=False`` skips the input checks, for callers that pass arrays already checked."""
    if validate:
        eoom = _vector(eoom, "eoom")
        brand = _vector(brand, "brand", size=eoom.size)
        value = _vector(value, "value")
        mu = _vector(mu, "mu", positive=True, size=value.size)
        difficulty = _vector(difficulty, "difficulty", size=value.size)
        if not width > 0:
            raise ValueError(f"width must be > 0 (got {width})")
    out = np.empty((value.size, eoom.size))
    _gross_utility_kernel(eoom, brand, value, mu, difficulty, float(width), out, LOGIT_TERMS)
    return out


@njit(cache=True)
def _choice_kernel(gross, mu, switching, provider, outside, price, owner, out_prob, out_logsum, terms):
    """Logit choice probabilities of every user over every offer and the outside option (D1-D2).

    out_prob[i, o] = exp(u_io / mu_i - L_i) for o < m and out_prob[i, m] = exp(u_i0 / mu_i - L_i);
    out_logsum[i] = L_i (log-sum-exp, so that utilities and scales spanning 1e-6..1e6 stay finite).
    """
    z = np.empty(price.shape[0] + 1)
    for i in range(gross.shape[0]):
        out_logsum[i] = _choice_row(gross, mu, switching, provider, outside, price, owner, i, z, out_prob[i])
    terms[0] += 2 * gross.shape[0] * (price.shape[0] + 1)


@njit(cache=True)
def _choice_row(gross, mu, switching, provider, outside, price, owner, i, z, prob):
    """User ``i``'s choice probabilities into ``prob`` (m + 1, outside option last); returns L_i (see
    :func:`_choice_kernel`; ``z`` is scratch)."""
    m = price.shape[0]
    inv_mu = 1.0 / mu[i]
    z_max = outside[i] * inv_mu
    z[m] = z_max
    for o in range(m):
        u = gross[i, o] - price[o]
        if owner[o] >= 0 and owner[o] == provider[i]:
            u += switching[i]
        z[o] = u * inv_mu
        if z[o] > z_max:
            z_max = z[o]
    total = 0.0
    for o in range(m + 1):
        total += math.exp(z[o] - z_max)
    log_sum = z_max + math.log(total)
    for o in range(m + 1):
        prob[o] = math.exp(z[o] - log_sum)
    return log_sum


@njit(cache=True)
def _lab_probabilities_kernel(gross, mu, switching, provider, outside, price, owner, starts, stops, out, terms):
    """out[i, l] = sum of user i's choice probabilities (D2) of the offers ``starts[l]:stops[l]`` (lab l's)."""
    z = np.empty(price.shape[0] + 1)
    prob = np.empty(price.shape[0] + 1)
    for i in range(gross.shape[0]):
        _choice_row(gross, mu, switching, provider, outside, price, owner, i, z, prob)
        for lab in range(starts.shape[0]):
            out[i, lab] = _row_sum(prob, starts[lab], stops[lab])
    terms[0] += 2 * gross.shape[0] * (price.shape[0] + 1)


@njit(cache=True)
def _row_sum(values, start, stop):
    """``values[start:stop]`` summed as numpy sums a row of a float64 array, so with the same bits: in order
    below 8 terms, else eight running sums combined pairwise (numpy's pairwise summation, up to 128 terms;
    a lab sells at most 8 offers)."""
    count = stop - start
    if count < 8:
        total = 0.0
        for j in range(start, stop):
            total += values[j]
        return total
    r = values[start:start + 8].copy()
    i = 8
    while i < count - count % 8:
        for j in range(8):
            r[j] += values[start + i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < count:
        total += values[start + i]
        i += 1
    return total


def choice_probabilities(gross, mu, switching, provider, outside, price, owner, *, validate: bool = True):
    """Choice probabilities (n, m + 1), last column the outside option, and log-sums L_i (n,).
    ``validate=False`` skips the input checks, for callers that pass arrays already checked."""
    if validate:
        gross, mu, switching, provider, outside, price, owner = table_inputs(gross, mu, switching, provider, outside,
                                                                             price, owner)
    prob = np.empty((mu.size, price.size + 1))
    logsum = np.empty(mu.size)
    _choice_kernel(gross, mu, switching, provider, outside, price, owner, prob, logsum, LOGIT_TERMS)
    return prob, logsum


def lab_probabilities(gross, mu, switching, provider, outside, price, owner, columns: list[slice]) -> np.ndarray:
    """(n, L) each user's choice probability of each lab, ``columns[l]`` being lab l's offers (a slice of the
    table: a lab's offers are next to each other); the same bits as summing :func:`choice_probabilities`'
    columns with numpy. The arrays are taken as checked (the market's)."""
    out = np.empty((mu.size, len(columns)))
    _lab_probabilities_kernel(gross, mu, switching, provider, outside, price, owner,
                              np.array([c.start for c in columns], dtype=np.int64),
                              np.array([c.stop for c in columns], dtype=np.int64), out, LOGIT_TERMS)
    return out


@njit(cache=True)
def _rival_row(gross, mu, switching, provider, outside, price, owner, lab, i, terms):
    """R_i of user ``i`` (see :func:`_rival_log_sum_kernel`) in one pass: a running maximum and a sum
    rescaled when the maximum moves."""
    inv_mu = 1.0 / mu[i]
    z_max = outside[i] * inv_mu
    total = 1.0
    evaluated = 0
    for o in range(price.shape[0]):
        if owner[o] == lab:
            continue
        evaluated += 1
        u = gross[i, o] - price[o]
        if owner[o] >= 0 and owner[o] == provider[i]:
            u += switching[i]
        z = u * inv_mu
        if z > z_max:
            total = total * math.exp(z_max - z) + 1.0
            z_max = z
        else:
            total += math.exp(z - z_max)
    terms[0] += evaluated
    return z_max + math.log(total)


@njit(cache=True)
def _rival_log_sum_kernel(gross, mu, switching, provider, outside, price, owner, lab, out, terms):
    """R_i = log(exp(u_i0 / mu_i) + sum_{o: owner_o != lab} exp(u_io / mu_i)).

    The deviating lab's offers are left out, so that a candidate offer of ``lab`` is evaluated
    in O(users) as ``L_i = logaddexp(R_i, own terms)``.
    """
    for i in range(gross.shape[0]):
        out[i] = _rival_row(gross, mu, switching, provider, outside, price, owner, lab, i, terms)


def rival_log_sums(gross, mu, switching, provider, outside, price, owner, lab: int, *,
                   validate: bool = True) -> np.ndarray:
    """Per user, the log of the logit denominator without the offers of ``lab`` (n,).
    ``validate=False`` skips the input checks, for callers that pass arrays already checked."""
    if validate:
        gross, mu, switching, provider, outside, price, owner = table_inputs(gross, mu, switching, provider, outside,
                                                                             price, owner)
    out = np.empty(mu.size)
    _rival_log_sum_kernel(gross, mu, switching, provider, outside, price, owner, int(lab), out, LOGIT_TERMS)
    return out


@njit(cache=True)
def _log_odds(gross_all, columns, inv_mu, switching, is_provider, rival, cost_all, out):
    """out[i, j] = (g_io - c_o + s_i 1[provider_i is the lab]) / mu_i - R_i for the offer o = ``columns[j]``:
    the log-odds of a lab's offer against the rivals' log-sum ``R_i`` at zero markup, so that at markups
    ``m`` the lab's choice probabilities are ``P_io = exp(out_ij - m_o / mu_i) / (1 + sum_o' exp(...))``
    (D1-D2). No exp: the best-response kernels evaluate the logit terms from it."""
    for i in range(gross_all.shape[0]):
        bonus = switching[i] if is_provider[i] else 0.0
        for j in range(columns.shape[0]):
            o = columns[j]
            out[i, j] = (gross_all[i, o] - cost_all[o] + bonus) * inv_mu[i] - rival[i]


@njit(cache=True)
def _sample_provider_kernel(prob, uniform, owner, out_provider):
    """Inverse-CDF draw of each user's choice from row i of ``prob`` with the draw ``uniform[i]``.

    The new provider is the owner of the chosen offer, or -1 for the outside option (last column)
    and for offers without an owner (self-hosting).
    """
    n, columns = prob.shape
    m = columns - 1
    for i in range(n):
        cumulative = 0.0
        chosen = m
        for o in range(m):
            cumulative += prob[i, o]
            if uniform[i] < cumulative:
                chosen = o
                break
        out_provider[i] = owner[chosen] if chosen < m else -1


def sample_providers(prob: np.ndarray, uniform: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Each user's next provider (lab id or -1) drawn from its choice probabilities."""
    prob = np.ascontiguousarray(prob, dtype=np.float64)
    uniform = _vector(uniform, "uniform", size=prob.shape[0])
    owner = np.ascontiguousarray(owner, dtype=np.int64)
    if prob.ndim != 2 or prob.shape[1] != owner.size + 1:
        raise ValueError("prob must have one column per offer plus the outside option")
    out = np.empty(prob.shape[0], dtype=np.int64)
    _sample_provider_kernel(prob, uniform, owner, out)
    return out


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
