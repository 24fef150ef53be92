"""The user population: sampled users of every task type, with their state held in arrays.

Users are not one Python object each: a population of 20,000 users is a handful of NumPy arrays
sorted by task type, and every per-user computation is done by the kernels. See docs/ODD.md §7.4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulation.scenario import Scenario, task_user_counts


@dataclass
class TaskUsers:
    """Views into the population arrays for the users of one task type (writes go through)."""

    value: np.ndarray       # value of a successful task v_i [$/task]
    mu: np.ndarray          # logit scale mu_i = logit_scale * v_i [$]
    switching: np.ndarray   # switching cost s_i = switching_cost * v_i [$]
    provider: np.ndarray    # lab id the user bought from last step, -1 for none
    outside: np.ndarray     # outside-option utility max(0, v_i h - wage) [$]

    @property
    def count(self) -> int:
        return self.value.size


class UserPopulation:
    """All sampled users, sorted by task type.

    Each user of task type tau stands for an equal slice of that type's tasks per step. Values are
    lognormal around the type's median: ``v_i = value_tau * exp(sigma * z_i)``, ``z_i ~ N(0, 1)``.
    """

    def __init__(self, scenario: Scenario, rng: np.random.Generator):
        cfg = scenario.users
        n_tasks = len(scenario.tasks)
        mix = cfg.task_mix if cfg.task_mix is not None else [1.0 / n_tasks] * n_tasks
        counts = np.array(task_user_counts(cfg.count, mix), dtype=np.int64)
        self.counts = counts
        self.bounds = np.concatenate([[0], np.cumsum(counts)])
        self.task = np.repeat(np.arange(n_tasks), counts)
        medians = np.array([t.value for t in scenario.tasks])[self.task]
        self.value = medians * np.exp(cfg.value_sigma * rng.standard_normal(cfg.count))
        self.mu = cfg.logit_scale * self.value
        self.switching = cfg.switching_cost * self.value
        human_success = np.array([t.human_success for t in scenario.tasks])[self.task]
        wage = np.array([t.wage for t in scenario.tasks])[self.task]
        self.outside = np.maximum(0.0, self.value * human_success - wage)
        self.provider = np.full(cfg.count, -1, dtype=np.int64)

    def of_task(self, task_index: int) -> TaskUsers:
        sl = slice(int(self.bounds[task_index]), int(self.bounds[task_index + 1]))
        return TaskUsers(self.value[sl], self.mu[sl], self.switching[sl], self.provider[sl], self.outside[sl])

    def forget_provider(self, lab_id: int) -> None:
        """Users of an exited lab return to the market (no provider, no switching bonus)."""
        self.provider[self.provider == lab_id] = -1
