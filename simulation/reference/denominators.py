"""Plain-Python twins of :mod:`aimarket.simulation.kernels.denominators` (§7.6)."""

from __future__ import annotations

import math

from aimarket.simulation.reference.choice import _log_sum_exp, _utility, rival_log_sums


def remove_lab(gross, mu, switching, provider, outside, price, owner, lab, logsum):
    """Rivals' log-sums from the whole table's: L + log1p(-S), exact where S > 0.5."""
    exact = rival_log_sums(gross, mu, switching, provider, outside, price, owner, lab)
    out = []
    for i in range(len(mu)):
        share = 0.0
        for o in range(len(price)):
            if owner[o] == lab:
                share += math.exp(_utility(gross[i][o], price[o], owner[o], provider[i], switching[i]) * (1.0 / mu[i])
                                  - logsum[i])
        out.append(logsum[i] + math.log1p(-share) if share <= 0.5 else exact[i])
    return out


def add_offers(rival, gross, mu, switching, is_provider, price):
    """logaddexp of the rivals' log-sums and a lab's own terms (aimarket.simulation.kernels.denominators)."""
    out = []
    for i in range(len(mu)):
        bonus = switching[i] if is_provider[i] else 0.0
        inv_mu = 1.0 / mu[i]
        out.append(_log_sum_exp([rival[i]] + [(gross[i][o] - price[o] + bonus) * inv_mu for o in range(len(price))]))
    return out
