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


def success_probability(eoom, difficulty, width):
    z = (eoom - difficulty) / width
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    return math.exp(z) / (1.0 + math.exp(z))


def active_parameters(raw_flop, active_fraction):
    return active_fraction * math.sqrt(raw_flop / 120.0)


def marginal_cost_per_task(active_params, tokens, k, inference_fpd):
    return 2.0 * active_params * tokens * k / inference_fpd
