"""Plain-Python reference implementations of the laws and kernels, for the tests only.

Written with plain loops and the ``math`` module (no numba, no numpy vectorisation), following the
equations in the docstrings of :mod:`aimarket.simulation.laws` and :mod:`aimarket.simulation.kernels` line by
line, one module per kernel module (``reference.choice`` for ``kernels.choice``, ``reference.prices`` for the
three price modules). The tests require the kernels to agree with these to 1e-12 relative.
"""

from aimarket.simulation.reference.best_response import best_response_sets
from aimarket.simulation.reference.choice import choice_probabilities, gross_utility, rival_log_sums, sample_providers
from aimarket.simulation.reference.costs import marginal_costs
from aimarket.simulation.reference.denominators import add_offers, remove_lab
from aimarket.simulation.reference.laws import (
    active_parameters,
    inference_gain,
    marginal_cost_per_task,
    pretraining_eoom,
    success_probability,
)
from aimarket.simulation.reference.prices import best_response_prices

__all__ = ["active_parameters", "add_offers", "best_response_prices", "best_response_sets", "choice_probabilities",
           "gross_utility", "inference_gain", "marginal_cost_per_task", "marginal_costs", "pretraining_eoom",
           "remove_lab", "rival_log_sums", "sample_providers", "success_probability"]
