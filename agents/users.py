"""The user population: sampled users of every task type, with their state held in arrays.

Users are not one Python object each: a population of 20,000 users is a handful of NumPy arrays
sorted by task type, and every per-user computation is done by the kernels (docs/ODD.md §7.4).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aimarket.simulation.scenario.schema import Scenario, task_user_counts


@dataclass
class TaskUsers:
    """Views into the population arrays for the users of one task type (writes go through)."""

    value: np.ndarray       # value of a successful task v_i [$/task]
    mu: np.ndarray          # logit scale mu_i = logit_scale * v_i [$]
    difficulty: np.ndarray  # difficulty of the user's tasks d_i [eOOM]
    switching: np.ndarray   # switching cost s_i = switching_cost * v_i [$]
    provider: np.ndarray    # lab id the user bought from last step, -1 for none
    outside: np.ndarray     # outside-option utility max(0, v_i h - wage_i) [$]

    @property
    def count(self) -> int:
        return self.value.size

    def subsample(self, stride: int) -> TaskUsers:
        """Every ``stride``-th user (copies), for projections."""
        pick = slice(None, None, stride)
        return TaskUsers(*(np.ascontiguousarray(a[pick]) for a in
                           (self.value, self.mu, self.difficulty, self.switching, self.provider, self.outside)))


class UserPopulation:
    """All sampled users, sorted by task type.

    Each user of task type tau stands for an equal slice of that type's tasks per step. The user's
    tasks have difficulty ``d_i = d_tau + sd_tau * z_i``; harder tasks are worth more and cost a human
    more: ``v_i = v_tau * exp(beta_tau * (d_i - d_tau) + sigma_tau * e_i)`` and
    ``wage_i = wage_tau * exp(beta_tau * (d_i - d_tau))``, with ``z_i, e_i ~ N(0, 1)`` (U1, U2);
    ``sigma_tau`` is the task type's ``value_sigma``, else ``users.value_sigma``.
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        cfg = scenario.users
        tasks = scenario.tasks
        n_tasks = len(tasks)
        mix = cfg.task_mix if cfg.task_mix is not None else [1.0 / n_tasks] * n_tasks
        counts = np.array(task_user_counts(cfg.count, mix), dtype=np.int64)
        self.counts = counts
        self.bounds = np.concatenate([[0], np.cumsum(counts)])
        self.task = np.repeat(np.arange(n_tasks), counts)

        def per_user(field: str) -> np.ndarray:
            return np.array([getattr(t, field) for t in tasks], dtype=np.float64)[self.task]

        value_noise = rng.standard_normal(cfg.count)
        difficulty_draw = rng.standard_normal(cfg.count)
        offset = per_user("difficulty_sd") * difficulty_draw
        gradient = np.exp(per_user("value_gradient") * offset)
        self.difficulty = per_user("difficulty") + offset
        sigma = np.array([cfg.value_sigma if t.value_sigma is None else t.value_sigma for t in tasks])[self.task]
        self.value = per_user("value") * gradient * np.exp(sigma * value_noise)
        self.wage = per_user("wage") * gradient
        self.mu = cfg.logit_scale * self.value
        self.switching = cfg.switching_cost * self.value
        self.outside = np.maximum(0.0, self.value * per_user("human_success") - self.wage)
        self.provider = np.full(cfg.count, -1, dtype=np.int64)

    def of_task(self, task_index: int) -> TaskUsers:
        sl = slice(int(self.bounds[task_index]), int(self.bounds[task_index + 1]))
        return TaskUsers(self.value[sl], self.mu[sl], self.difficulty[sl], self.switching[sl], self.provider[sl],
                         self.outside[sl])

    def draw_installed_base(self, task_index: int, lab_ids: np.ndarray, shares: np.ndarray,
                            uniform: np.ndarray) -> None:
        """Step-0 providers of the users of one task type: lab ``lab_ids[j]`` with probability
        ``shares[j]``, none with the rest (an installed base, so switching costs bind from the start)."""
        sl = slice(int(self.bounds[task_index]), int(self.bounds[task_index + 1]))
        edges = np.cumsum(shares)
        chosen = np.searchsorted(edges, uniform, side="right")
        self.provider[sl] = np.where(chosen < len(lab_ids), np.append(lab_ids, -1)[chosen], -1)

    def forget_provider(self, lab_id: int) -> None:
        """Users of an exited lab return to the market (no provider, no switching bonus)."""
        self.provider[self.provider == lab_id] = -1
