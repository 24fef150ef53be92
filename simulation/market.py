"""The market of one task type at one step: its users, the offers on it, and best responses.

A :class:`TaskMarket` is the per-market computation layer (in the spirit of PyBLP's per-market
objects): it owns views of the users of one task type and the current table of offers, and turns a
lab's candidate inference multipliers into prices, shares and profits with the kernels of
:mod:`simulation.kernels`. It holds no lab logic: strategies (``agents.strategies``) decide which
candidates to evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation import kernels
from simulation.laws import inference_gain, marginal_cost_per_task, success_probability
from simulation.scenario import TaskType

SELF_HOST = -1  # owner id of the self-hosting offer (open weights run by the user)
SCREEN_ITERATIONS = 2  # price iterations used to rank candidate offers before solving the best one


@dataclass(frozen=True)
class Candidate:
    """A lab's best response for one set of inference multipliers on one task type.

    k: inference multiplier of each offer (tier); eoom: deployed capability [eOOM];
    quality: success probability; cost: marginal cost [$/task]; price [$/task];
    share: mean choice probability over the task type's users; profit: per step [$].
    """

    k: tuple[float, ...]
    eoom: np.ndarray
    quality: np.ndarray
    cost: np.ndarray
    price: np.ndarray
    share: np.ndarray
    profit: float
    iterations: int


class TaskMarket:
    """Users of one task type and the offers on it at the current step.

    Offers are kept as parallel arrays (owner, k, eoom, quality, cost, price) with one row per offer;
    a lab owns one row per tier. ``tasks_per_user`` converts a mean share into tasks per step.
    """

    def __init__(self, task: TaskType, users, tasks_per_step: float, inference_fpd: float,
                 price_tolerance: float, price_iterations: int):
        self.task = task
        self.users = users  # agents.users.TaskUsers view: value, mu, switching, provider, outside
        self.tasks_per_step = tasks_per_step
        self.inference_fpd = inference_fpd
        self.price_tolerance = price_tolerance
        self.price_iterations = price_iterations
        self.owner = np.empty(0, dtype=np.int64)
        self.k = np.empty(0)
        self.eoom = np.empty(0)
        self.quality = np.empty(0)
        self.cost = np.empty(0)
        self.price = np.empty(0)

    # -- offers ------------------------------------------------------------------------------------
    def set_offers(self, owner, k, eoom, cost, price) -> None:
        """Replace the whole offer table; quality follows from capability by L6."""
        self.owner = np.asarray(owner, dtype=np.int64)
        self.k = np.asarray(k, dtype=np.float64)
        self.eoom = np.asarray(eoom, dtype=np.float64)
        self.cost = np.asarray(cost, dtype=np.float64)
        self.price = np.asarray(price, dtype=np.float64)
        self.quality = self.success(self.eoom)

    def replace_lab_offers(self, lab_id: int, candidate: Candidate) -> None:
        """Swap ``lab_id``'s rows for the offers of ``candidate``."""
        keep = self.owner != lab_id
        self.set_offers(
            np.concatenate([self.owner[keep], np.full(len(candidate.k), lab_id)]),
            np.concatenate([self.k[keep], candidate.k]),
            np.concatenate([self.eoom[keep], candidate.eoom]),
            np.concatenate([self.cost[keep], candidate.cost]),
            np.concatenate([self.price[keep], candidate.price]),
        )

    def opening_offer(self, raw_flop: float, eoom_pre: float, k: float) -> Candidate:
        """An offer before any best response: multiplier ``k`` priced at marginal cost plus the users'
        mean logit scale (the markup of a small firm facing homogeneous users)."""
        eoom = np.array([self.deployed_eoom(eoom_pre, k)])
        cost = np.array([self.unit_cost(raw_flop, k)])
        return Candidate((float(k),), eoom, self.success(eoom), cost, cost + float(np.mean(self.users.mu)),
                         np.zeros(1), 0.0, 0)

    # -- laws on this task type ------------------------------------------------------------------------
    def success(self, eoom: np.ndarray) -> np.ndarray:
        return np.array([success_probability(e, self.task.difficulty, self.task.width) for e in np.atleast_1d(eoom)])

    def deployed_eoom(self, eoom_pre: float, k: float) -> float:
        """E_tau = E_pre + G_tau(k) (L5)."""
        return eoom_pre + inference_gain(k, self.task.alpha, self.task.kappa)

    def unit_cost(self, raw_flop: float, k: float) -> float:
        """Marginal cost per task of a model of ``raw_flop`` at multiplier ``k`` (L9) [$/task]."""
        return marginal_cost_per_task(raw_flop, self.task.tokens, k, self.inference_fpd)

    # -- demand ------------------------------------------------------------------------------------
    def choice_probabilities(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, offers + 1) choice probabilities, outside option last, and each user's log-sum."""
        u = self.users
        return kernels.choice_probabilities(u.value, u.mu, u.switching, u.provider, u.outside,
                                            self.quality, self.price, self.owner)

    def best_response(self, lab_id: int, raw_flop: float, eoom_pre: float, k_sets, price_hint,
                      user_stride: int = 1, screen: bool = False) -> list[Candidate]:
        """Best-response prices and profits of ``lab_id`` for each candidate set of multipliers.

        Rivals' offers are held fixed: their part of every user's logit denominator is computed
        once (O(users x offers)) and each candidate then costs O(users) per price iteration.
        ``price_hint(k, cost)`` gives a warm start for the price of an offer with multiplier ``k``.
        ``user_stride`` > 1 evaluates on every stride-th user (used for multi-step projections).
        With ``screen``, candidates are ranked after ``SCREEN_ITERATIONS`` Newton steps (profit is
        flat at the optimum, so the ranking is that of the solved prices up to near-ties) and only
        the best is solved to tolerance; the list then holds that one candidate.
        """
        u = self.users
        select = slice(None, None, user_stride)
        value, mu, switching = (np.ascontiguousarray(x[select]) for x in (u.value, u.mu, u.switching))
        provider, outside = np.ascontiguousarray(u.provider[select]), np.ascontiguousarray(u.outside[select])
        rival = kernels.rival_log_sums(value, mu, switching, provider, outside, self.quality, self.price,
                                       self.owner, lab_id, validate=False)
        is_provider = provider == lab_id
        tasks_per_step = self.tasks_per_step

        def solve(k_set, init=None, max_iter=self.price_iterations, dampings=(1.0, 0.5, 0.25)) -> Candidate:
            k_arr = np.asarray(k_set, dtype=np.float64)
            eoom = np.array([self.deployed_eoom(eoom_pre, k) for k in k_arr])
            quality = self.success(eoom)
            cost = np.array([self.unit_cost(raw_flop, k) for k in k_arr])
            if init is None:
                init = np.array([price_hint(k, c) for k, c in zip(k_arr, cost, strict=True)])
            price, share, iterations = kernels.best_response_prices(
                value, mu, switching, is_provider, rival, quality, cost, init,
                self.price_tolerance, max_iter, validate=False, dampings=dampings)
            profit = float(np.sum((price - cost) * share)) * tasks_per_step
            return Candidate(tuple(float(k) for k in k_arr), eoom, quality, cost, price, share, profit, iterations)

        if not screen or len(k_sets) == 1:
            return [solve(k_set) for k_set in k_sets]
        screened = [solve(k_set, max_iter=SCREEN_ITERATIONS, dampings=(1.0,)) for k_set in k_sets]
        best = max(screened, key=lambda c: c.profit)
        if best.iterations > 0:
            return [best]
        return [solve(best.k, init=best.price)]
