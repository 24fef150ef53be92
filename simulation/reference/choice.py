"""Plain-Python twins of :mod:`aimarket.simulation.kernels.choice` (L6, D1-D2)."""

from __future__ import annotations

import math

from aimarket.simulation.reference.laws import success_probability


def _left_sum(values) -> float:
    """Floats added left to right, as the kernels' loops do (Python 3.12's sum() compensates rounding)."""
    total = 0.0
    for v in values:
        total += v
    return total


def gross_utility(eoom, brand, value, mu, difficulty, width):
    return [[value[i] * success_probability(eoom[o], difficulty[i], width) + mu[i] * brand[o]
             for o in range(len(eoom))] for i in range(len(value))]


def _log_sum_exp(zs):
    top = max(zs)
    return top + math.log(_left_sum(math.exp(z - top) for z in zs))


def _utility(gross, price, owner, provider, switching):
    u = gross - price
    if owner >= 0 and owner == provider:
        u += switching
    return u


def choice_probabilities(gross, mu, switching, provider, outside, price, owner):
    probs, logsums = [], []
    for i in range(len(mu)):
        inv_mu = 1.0 / mu[i]
        zs = [_utility(gross[i][o], price[o], owner[o], provider[i], switching[i]) * inv_mu
              for o in range(len(price))]
        zs.append(outside[i] * inv_mu)
        log_sum = _log_sum_exp(zs)
        logsums.append(log_sum)
        probs.append([math.exp(z - log_sum) for z in zs])
    return probs, logsums


def rival_log_sums(gross, mu, switching, provider, outside, price, owner, lab):
    """Running maximum with a rescaled sum, in the kernel's order (a log near 0 has no relative slack)."""
    out = []
    for i in range(len(mu)):
        inv_mu = 1.0 / mu[i]
        z_max = outside[i] * inv_mu
        total = 1.0
        for o in range(len(price)):
            if owner[o] == lab:
                continue
            z = _utility(gross[i][o], price[o], owner[o], provider[i], switching[i]) * inv_mu
            if z > z_max:
                total = total * math.exp(z_max - z) + 1.0
                z_max = z
            else:
                total += math.exp(z - z_max)
        out.append(z_max + math.log(total))
    return out


def sample_providers(prob, uniform, owner):
    out = []
    m = len(owner)
    for row, u in zip(prob, uniform, strict=True):
        cumulative, chosen = 0.0, m
        for o in range(m):
            cumulative += row[o]
            if u < cumulative:
                chosen = o
                break
        out.append(owner[chosen] if chosen < m else -1)
    return out
