"""Plain-Python twins of the scalar laws of :mod:`aimarket.simulation.laws` (L1-L9)."""

from __future__ import annotations

import math


def pretraining_eoom(raw_flop, algo_eff, data_wall, post_wall_returns):
    x = math.log10(raw_flop)
    if x > data_wall:
        x = data_wall + post_wall_returns * (x - data_wall)
    return math.log10(algo_eff) + x


def inference_gain(k, alpha, kappa):
    return -alpha * kappa * math.expm1(-math.log10(k) / kappa)  # expm1: exact for large kappa


def logistic_of_minus(d):
    """1 / (1 + exp(d)) as the kernels compute it: where exp(d) overflows (inf there, an error here) it is 0."""
    try:
        return 1.0 / (1.0 + math.exp(d))
    except OverflowError:
        return 0.0


def success_probability(eoom, difficulty, width):
    return logistic_of_minus(-(eoom - difficulty) / width)


def active_parameters(raw_flop, active_fraction):
    return active_fraction * math.sqrt(raw_flop / 120.0)


def marginal_cost_per_task(active_params, tokens, k, inference_fpd):
    return 2.0 * active_params * tokens * k / inference_fpd
