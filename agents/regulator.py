"""The regulator (docs/ODD.md §7.12): compute-threshold policies applied to models when they are released.

Policies:

* ``none``: nothing is regulated.
* ``training_threshold``: a model is regulated when its training compute ``C_raw`` (plus IDA compute
  when ``count_ida_compute``) reaches ``threshold_flop``. With ``index_to_algorithmic_progress`` the
  test is on effective training compute ``C * A(t_trained)``, A taken at the step the run started (as
  for the model's ``eoom_pre``): the line stays fixed in effective compute, so in raw FLOP it falls
  as ``threshold_flop / A(t)`` and keeps pace with algorithms (at 1e25, a 5e24 FLOP run is caught once
  ``A >= 2``; a 2e25 FLOP model trained when ``A = 0.4`` is not). Without indexing the line is fixed
  in raw FLOP, as in the EU AI Act and US EO 14110.
* ``effective_threshold``: regulated when the capability the model can be deployed with,
  ``max_tau E_pre + G_tau(k_max)`` (inference counted through the capability law at the largest k of
  the grid that the task type's latency limit allows), reaches ``log10(threshold_flop)`` eOOM.
  Judging at ``k_max`` means no deployed offer can
  be over the line unregulated, so ``evading_labs`` is 0 under this policy.
* ``capability_threshold``: regulated when its success probability at ``k_max`` on any task type
  reaches ``capability_level``.

A model is judged once, when its training run has finished (roster models and entrants' models at
the step they appear). A regulated model pays ``compliance_cost`` once, at the judgement, and is
released ``delay_steps`` steps later; an unregulated one is released at once. Whatever the policy,
the outputs measure usage against the frontier-capable line ``log10(threshold_flop)`` eOOM
(``regulated_share``, ``evading_labs``: labs serving over the line with an unregulated model).
"""

from __future__ import annotations

import math

import mesa

from aimarket.agents.lab import TrainedModel
from aimarket.simulation.laws import inference_gain, success_probability
from aimarket.simulation.market import latency_limit


class Regulator(mesa.Agent):
    """Judges each model when it is released and keeps the frontier-capable line."""

    def __init__(self, model: mesa.Model):
        super().__init__(model)
        self.settings = model.config.regulator
        self.first_evasion_step: int | None = None

    @property
    def policy(self) -> str:
        return self.settings.policy

    @property
    def frontier_line_eoom(self) -> float:
        """Usage at or above this deployed capability is "frontier-capable" [eOOM]."""
        return math.log10(self.settings.threshold_flop)

    def reachable_eoom(self, eoom_pre: float) -> list[float]:
        """Per task type, the capability a model can be deployed with at the largest k of the grid within the
        task type's latency limit [eOOM]."""
        s = self.model.config
        reachable = []
        for t in s.tasks:
            limit = latency_limit(t, s.compute.copy_tokens_per_second)
            k_max = max([k for k in s.labs.k_grid if k <= limit * (1 + 1e-12)], default=1.0)
            reachable.append(eoom_pre + inference_gain(k_max, t.alpha, t.kappa))
        return reachable

    def would_regulate(self, trained: TrainedModel, algo_eff: float) -> bool:
        """Whether ``trained`` is regulated under the policy (``algo_eff`` = A at training)."""
        s = self.settings
        if s.policy == "none":
            return False
        if s.policy == "training_threshold":
            flop = trained.counted_training_flop if s.count_ida_compute else trained.raw_flop
            if s.index_to_algorithmic_progress:
                flop *= algo_eff
            return flop >= s.threshold_flop
        reachable = self.reachable_eoom(trained.eoom_pre)
        if s.policy == "effective_threshold":
            return max(reachable) >= self.frontier_line_eoom
        tasks = self.model.config.tasks
        return any(success_probability(e, t.difficulty, t.width) >= s.capability_level
                   for e, t in zip(reachable, tasks, strict=True))

    @property
    def compliance_cost(self) -> float:
        return self.settings.compliance_cost

    @property
    def delay_steps(self) -> int:
        return self.settings.delay_steps

    def note_evasion(self, evading_labs: int) -> None:
        if evading_labs > 0 and self.first_evasion_step is None:
            self.first_evasion_step = self.model.step_index
