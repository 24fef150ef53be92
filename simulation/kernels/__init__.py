"""Numba market kernels (docs/ODD.md §7.3-§7.6), one module per family of equations:

* :mod:`~aimarket.simulation.kernels.costs`: marginal cost per task (L7-L9);
* :mod:`~aimarket.simulation.kernels.choice`: gross utility (L6, D1), logit choice (D2), rivals' log-sums,
  a lab's own choice probabilities, draws of the next provider;
* :mod:`~aimarket.simulation.kernels.denominators`: incremental logit denominators (§7.6);
* :mod:`~aimarket.simulation.kernels.single_offer`, :mod:`~aimarket.simulation.kernels.multi_offer` and
  :mod:`~aimarket.simulation.kernels.prices`: best-response prices against fixed rivals (D3);
* :mod:`~aimarket.simulation.kernels.best_response`: one compiled call per best response (screening and
  final solve of a lab's candidate product sets, §7.7);
* :mod:`~aimarket.simulation.kernels.rounds`: one compiled call per round of best responses on a market
  (E1, §7.6);
* :mod:`~aimarket.simulation.kernels.inputs` (input checks) and :mod:`~aimarket.simulation.kernels.terms`
  (the count of logit terms, for the benchmarks).

Each has its plain-Python reference in the mirrored module of :mod:`aimarket.simulation.reference`.

Conventions shared by every kernel
----------------------------------
The market of one task type has ``n`` users and ``m`` *offers*. An offer is one product (model
variant, inference multiplier k, price) of one lab; a lab may sell several offers (tiers) on a task
type, and an offer whose owner is ``-1`` is not sold by a lab (self-hosting an open-weight model).
Per user ``i``:

* ``value[i]``       value of a successful task, ``v_i`` [$/task]
* ``mu[i]``          logit scale ``mu_i = logit_scale * v_i`` [$]
* ``difficulty[i]``  difficulty of the user's tasks ``d_i`` [eOOM]
* ``switching[i]``   switching cost ``s_i`` [$], the bonus of staying with the current provider
* ``provider[i]``    id of the lab the user bought from last step, ``-1`` for none
* ``outside[i]``     utility of the outside option ``u_i0 = max(0, v_i h - wage_i)`` [$]

Per offer ``o``: capability ``E_o`` [eOOM], brand ``xi_o`` [logit units], ``price[o]`` [$/task],
``owner[o]`` (lab id or -1). Utility (equation D1 of docs/ODD.md):

    u_io = g_io - price_o + s_i * 1[owner_o == provider_i],   g_io = v_i * P(E_o; d_i) + mu_i * xi_o,

where the *gross utility* ``g_io`` (:func:`gross_utility`) is computed once per offer table, and
choice probabilities are logit with scale ``mu_i`` (D2), evaluated with log-sum-exp:

    P_io = exp(u_io / mu_i - L_i),   L_i = log(exp(u_i0 / mu_i) + sum_o exp(u_io / mu_i)).

"""

from aimarket.simulation.kernels.best_response import best_response_sets, screened_groups
from aimarket.simulation.kernels.choice import choice_probabilities, gross_utility, rival_log_sums, sample_providers
from aimarket.simulation.kernels.costs import marginal_costs
from aimarket.simulation.kernels.denominators import add_offers, remove_lab
from aimarket.simulation.kernels.prices import best_response_prices
from aimarket.simulation.kernels.single_offer import NEGLIGIBLE_SHARE, NOT_CONVERGED
from aimarket.simulation.kernels.terms import logit_terms, reset_logit_terms

__all__ = ["NEGLIGIBLE_SHARE", "NOT_CONVERGED", "add_offers", "best_response_prices", "best_response_sets",
           "choice_probabilities", "gross_utility", "logit_terms", "marginal_costs", "remove_lab",
           "reset_logit_terms", "rival_log_sums", "sample_providers", "screened_groups"]
