"""The model's laws: exogenous trends, capability, task success and costs (docs/ODD.md §7.1-§7.3).

Every equation of the model that maps compute to capability or to money is written once, here.
The scalar laws are numba ``@njit(cache=True)`` functions so that the market kernels
(:mod:`aimarket.simulation.kernels`) call them on the hot path; they are ordinary callables from Python too.
Their plain-Python twins for the tests live in :mod:`aimarket.simulation.reference`.

Equation numbers (L1...) are those of ``docs/ODD.md`` §7 "Submodels".
"""

from __future__ import annotations

import math

from numba import njit

SECONDS_PER_YEAR = 365.25 * 24 * 3600.0
JOULES_PER_MWH = 3.6e9
CHINCHILLA_FLOP_PER_PARAM_SQUARED = 120.0  # C = 6 N D with D = 20 N  =>  N = sqrt(C / 120)


# --- L1-L3: exogenous trends (docs/ODD.md §7.1) -------------------------------------------------------

def training_flop_per_dollar(years: float, flop_per_dollar: float, hardware_growth: float) -> float:
    """(L1) Training FLOP bought by one USD ``years`` after the start: ``F(t) = F0 * g_hw ** t`` [FLOP/$]."""
    return flop_per_dollar * hardware_growth**years


def at_inference(training_rate: float, inference_utilisation: float, training_utilisation: float,
                 precision_factor: float) -> float:
    """(L2) A training FLOP rate (per USD, per joule or per second of a fleet) when the same chips serve
    inference: ``F_inf = F_train * u_inf / u_train * precision``."""
    return training_rate * inference_utilisation / training_utilisation * precision_factor


def algorithmic_efficiency(years: float, algo_growth: float) -> float:
    """(L3) Algorithmic efficiency multiplier ``A(t) = g_algo ** t`` (dimensionless, 1 at the start)."""
    return algo_growth**years


# --- L4-L6: capability (docs/ODD.md §7.2) ---------------------------------------------------------------

@njit(cache=True)
def pretraining_eoom(raw_flop: float, algo_eff: float, data_wall: float, post_wall_returns: float) -> float:
    """(L4) Pre-training capability [eOOM]: ``E_pre = log10(A) + f(log10 C_raw)``.

    The data wall is on raw compute (the stock of training data bounds what more raw FLOP buys; it does
    not tax algorithmic progress): ``f(x) = x`` if ``x <= W`` else ``W + rho * (x - W)``, with ``W``
    in log10 raw FLOP.
    """
    x = math.log10(raw_flop)
    if x > data_wall:
        x = data_wall + post_wall_returns * (x - data_wall)
    return math.log10(algo_eff) + x


@njit(cache=True)
def inference_gain(k: float, alpha: float, kappa: float) -> float:
    """(L5) Capability bought with ``k`` times the base inference compute per task [eOOM].

    ``G(k) = alpha * kappa * (1 - exp(-log10(k) / kappa))``: slope ``alpha`` eOOM per OOM of
    inference at ``k = 1``, saturating at ``alpha * kappa``.
    """
    return -alpha * kappa * math.expm1(-math.log10(k) / kappa)  # expm1: exact for large kappa


@njit(cache=True)
def logistic_of_minus(d: float) -> float:
    """``1 / (1 + exp(d))``: the logistic of the success law (L6) and of one offer's logit share against
    the rest of the choice set (log-odds -d). Without a branch (users' d fall on both sides of 0, so a
    branch is mispredicted half the time): for d above ~709.8 exp(d) is inf and the result is the
    correct limit 0, never NaN."""
    return 1.0 / (1.0 + math.exp(d))


@njit(cache=True)
def success_probability(eoom: float, difficulty: float, width: float) -> float:
    """(L6) Probability of succeeding at a task: ``P(E) = 1 / (1 + exp(-(E - d) / w))``."""
    return logistic_of_minus(-(eoom - difficulty) / width)


def ida_gain(exchange_rate: float, ida_flop: float, raw_flop: float) -> float:
    """(L4b) Capability from inference during training (IDA) [eOOM], not capped by the data wall:
    ``exchange_rate * log10(1 + C_ida / C_raw)``."""
    return exchange_rate * math.log10(1.0 + ida_flop / raw_flop)


# --- L7-L11: costs and energy (docs/ODD.md §7.3) -----------------------------------------------------

@njit(cache=True)
def chinchilla_parameters(raw_flop: float) -> float:
    """(L7) Compute-optimal parameter count: ``N = sqrt(C_raw / 120)`` (C = 6 N D, D = 20 N)."""
    return math.sqrt(raw_flop / CHINCHILLA_FLOP_PER_PARAM_SQUARED)


@njit(cache=True)
def active_parameters(raw_flop: float, active_fraction: float) -> float:
    """(L7b) Parameters active per token of a served model: ``N_active = a * sqrt(C_raw / 120)``.

    ``a`` is the sparse (mixture-of-experts) or overtrained model's active fraction (1 for a dense
    compute-optimal model); a distilled variant multiplies it by ``labs.distill_ratio``."""
    return active_fraction * chinchilla_parameters(raw_flop)


@njit(cache=True)
def flop_per_task(active_params: float, tokens: float, k: float) -> float:
    """(L8) Inference FLOP of one task: ``2 * N_active * tokens * k`` [FLOP]."""
    return 2.0 * active_params * tokens * k


@njit(cache=True)
def marginal_cost_per_task(active_params: float, tokens: float, k: float, inference_fpd: float) -> float:
    """(L9) Marginal cost of one task: ``mc = 2 N_active tokens k / F_inf`` [$/task]."""
    return flop_per_task(active_params, tokens, k) / inference_fpd


def latency_k_max(latency_s: float, tokens_per_second: float, parallel: float, tokens: float) -> float:
    """(L9b) The largest inference multiplier a user waits for:
    ``k_max = latency * tokens_per_s * parallel / tokens`` (``parallel`` samples generated side by side)."""
    return latency_s * tokens_per_second * parallel / tokens


def training_cost(raw_flop: float, training_fpd: float) -> float:
    """(L10) Cost of a training run of ``C_raw`` FLOP at the price when it is paid [$]."""
    return raw_flop / training_fpd


def site_power_mw(raw_flop: float, duration_years: float, flop_per_joule: float) -> float:
    """(L11) Average power drawn at one site by a training run: ``C / (duration * FLOP/J)`` [MW]."""
    return raw_flop / (duration_years * SECONDS_PER_YEAR * flop_per_joule) / 1e6


def inference_energy_mwh(inference_flop: float, flop_per_joule: float) -> float:
    """(L12) Energy of ``inference_flop`` FLOP of inference [MWh]."""
    return inference_flop / flop_per_joule / JOULES_PER_MWH


def served_copies(fleet_flop_per_second: float, active_params: float, k: float, tokens_per_second: float) -> float:
    """(L13) Simultaneous copies a fleet serves: fleet FLOP/s over ``2 N_active k * tokens/s`` per copy.

    Ord (2025): 100x the inference per task means 1/100 as many copies from the same fleet.
    """
    return fleet_flop_per_second / (2.0 * active_params * k * tokens_per_second)
