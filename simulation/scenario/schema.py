"""Scenario schema: every parameter of the model, its unit and its allowed range.

A scenario is a TOML file (see ``scenarios/default.toml``) validated into the immutable
:class:`Scenario` below. Validation errors are turned into one-line messages that name the dotted
field and what is allowed by :mod:`aimarket.simulation.scenario.validation`; this module declares the
schema, and the canonical form of a scenario (:func:`scenario_to_dict`, :func:`scenario_hash`).

Section numbers refer to ``docs/ODD.md``, the model's specification.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Section(BaseModel):
    """Base of every scenario section: unknown keys are errors, values are immutable, types are strict
    (a string is never read as a number, nor a boolean as an integer; an integer is a valid float)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


def _default_k_grid() -> list[float]:
    return [10.0 ** (i / 2) for i in range(13)]


class RunSettings(_Section):
    """Length of a run and its root seed."""

    steps: int = Field(40, ge=1, le=100_000, description="number of steps simulated")
    seed: int = Field(20250212, ge=0, description="root seed of the model's random generator")


class TimeSettings(_Section):
    """Calendar (docs/ODD.md §2.3)."""

    start_year: float = Field(2025.0, ge=1950, le=2200, description="calendar year of step 0 [year]")
    step_years: float = Field(0.25, gt=0, le=10, description="length of one step [years]")


class ComputeSettings(_Section):
    """Exogenous compute trends (docs/ODD.md §7.1, §7.3)."""

    flop_per_dollar: float = Field(5e17, gt=0, description="training FLOP per USD at step 0 [FLOP/$]")
    hardware_growth: float = Field(1.35, gt=0, description="price-performance growth [x per year]")
    training_utilisation: float = Field(0.40, gt=0, le=1, description="utilisation of training [0-1]")
    inference_utilisation: float = Field(0.15, gt=0, le=1, description="utilisation of inference [0-1]")
    paid_compute_share: float = Field(
        1.0, gt=0, le=1, description="share of served inference compute that paid tasks use; the rest (free tier, "
        "idle capacity) is a cost of the paid tasks [0-1]"
    )
    precision_factor: float = Field(
        1.0, ge=1, le=2, description="inference throughput factor of low precision (BF16 1, FP8 up to 2)"
    )
    algo_growth: float = Field(3.0, gt=0, description="algorithmic efficiency growth [x per year]")
    flop_per_joule: float = Field(4e11, gt=0, description="energy efficiency at step 0 [FLOP/J]")
    energy_growth: float = Field(1.26, gt=0, description="energy-efficiency growth [x per year]")
    copy_tokens_per_second: float = Field(
        50.0, gt=0, description="tokens per second one served copy of a model produces [tokens/s]"
    )


class CapabilitySettings(_Section):
    """Pre-training capability and the data wall (docs/ODD.md §7.2)."""

    data_wall_raw_flop: float = Field(
        28.0, gt=0, le=60, description="raw training compute where the stock of training data runs out [log10 FLOP]")
    post_wall_returns: float = Field(0.3, ge=0, le=1, description="OOM of effective compute per OOM of raw compute "
                                     "past the wall")


class TaskType(_Section):
    """One task type tau (docs/ODD.md §7.2)."""

    name: str = Field(min_length=1, description="task type name")
    tokens: float = Field(gt=0, description="base tokens per task (plain forward pass) [tokens]")
    alpha: float = Field(ge=0, description="eOOM per OOM of inference at k = 1")
    kappa: float = Field(gt=0, description="saturation scale of the inference gain [OOM]")
    difficulty: float = Field(description="eOOM at which success probability is 1/2 [eOOM]")
    width: float = Field(gt=0, description="logistic width of the success curve [eOOM]")
    human_success: float = Field(ge=0, le=1, description="probability a human succeeds [0-1]")
    wage: float = Field(ge=0, description="human wage per task [$]")
    value: float = Field(gt=0, description="median user value of a successful task [$]")
    tasks_per_step: float = Field(ge=0, description="tasks demanded per step at step 0 [tasks]")
    difficulty_sd: float = Field(1.5, ge=0, description="spread of users' task difficulty around the median [eOOM]")
    value_gradient: float = Field(
        0.7, ge=0, le=5, description="log growth of value and wage per eOOM of task difficulty [1/eOOM]")
    value_sigma: float | None = Field(
        None, ge=0, description="log-sd of user value for this task type (omitted: users.value_sigma)")
    latency_s: float | None = Field(
        None, gt=0, description="longest a user waits for an answer [s]; caps k (omitted: no limit)")
    parallel_samples: int = Field(16, ge=1, le=1_000_000, description="samples generated side by side within the "
                                  "latency limit")


def _default_tasks() -> list[TaskType]:
    rows = [
        ("chat", 1e3, 0.2, 0.5, 23.0, 0.7, 0.9, 1.0, 0.05, 1e11, 30.0),
        ("reasoning", 1e4, 0.7, 3.0, 26.0, 0.7, 0.9, 50.0, 20.0, 1e9, 1800.0),
        ("agentic", 1e5, 0.9, 4.0, 28.0, 0.7, 0.9, 500.0, 800.0, 1e7, 28800.0),
    ]
    keys = ("name", "tokens", "alpha", "kappa", "difficulty", "width", "human_success", "wage", "value",
            "tasks_per_step", "latency_s")
    return [TaskType(**dict(zip(keys, row, strict=True))) for row in rows]


class DemandSettings(_Section):
    """Market size (docs/ODD.md §7.2, §7.4)."""

    growth: float = Field(1.5, gt=0, description="growth of tasks per step [x per year]")
    market_scale: float = Field(1.0, gt=0, description="multiplier on every task type's tasks per step")
    brand_decay: float = Field(0.15, ge=0, lt=1, description="yearly depreciation of the brand terms [fraction]")


class UserSettings(_Section):
    """The sampled user population (docs/ODD.md §7.4)."""

    count: int = Field(20_000, ge=1, le=10_000_000, description="number of sampled users")
    task_mix: list[float] | None = Field(None, description="share of users per task type (default equal)")
    value_sigma: float = Field(1.0, ge=0, description="log-sd of user value around the task median")
    logit_scale: float = Field(0.2, gt=0, description="logit scale per $ of user value (mu_i = this * v_i)")
    switching_cost: float = Field(0.05, ge=0, description="switching cost per $ of user value")
    selfhost_premium: float = Field(2.0, ge=0, description="extra cost of self-hosting open weights [fraction]")

    @field_validator("task_mix")
    @classmethod
    def _mix_is_distribution(cls, mix: list[float] | None) -> list[float] | None:
        if mix is None:
            return mix
        if not mix or any(x < 0 for x in mix) or abs(sum(mix) - 1.0) > 1e-9:
            raise ValueError("must be non-negative shares that sum to 1")
        return mix


Strategy = str


class LabEntry(_Section):
    """One lab of the initial roster (docs/ODD.md §7.7-§7.10)."""

    name: str = Field(min_length=1, description="lab name")
    training_flop: float = Field(gt=0, description="raw training compute of the current model [FLOP]")
    cash: float = Field(ge=0, description="cash at step 0 [$]")
    open_weights: bool = Field(False, description="whether the lab releases its weights")
    strategy: Strategy = Field("optimise", description="name of a registered lab strategy")
    trained_year: float | None = Field(
        None, ge=1950, le=2200, description="calendar year the current model was trained (default: start year)"
    )
    k: dict[str, float] = Field(default_factory=dict, description="fixed inference multiplier per task type")
    share: dict[str, float] = Field(
        default_factory=dict,
        description="observed usage share at step 0 per task type (0-1), matched by the brand term")
    active_fraction: float = Field(
        0.25, gt=0, le=1, description="parameters active per token over compute-optimal parameters")
    opex: float | None = Field(None, ge=0, description="fixed operating cost per step [$] (omitted: labs.opex)")

    @field_validator("share")
    @classmethod
    def _shares_in_unit_interval(cls, share: dict[str, float]) -> dict[str, float]:
        for task, value in share.items():
            if not 0.0 < value < 1.0:
                raise ValueError(f"share for task '{task}' must be in (0, 1) (got {value})")
        return share

    @field_validator("k")
    @classmethod
    def _k_at_least_one(cls, k: dict[str, float]) -> dict[str, float]:
        for task, value in k.items():
            if not value >= 1.0:
                raise ValueError(f"k for task '{task}' must be >= 1 (got {value})")
        return k


class LabSettings(_Section):
    """Lab behaviour and finance (docs/ODD.md §7.7-§7.10)."""

    k_grid: list[float] = Field(default_factory=_default_k_grid, description="candidate inference multipliers")
    br_tolerance: float = Field(1e-10, gt=0, lt=1e-2, description="best responses stop when no price moves by more "
                                "than this (relative)")
    br_max_rounds: int = Field(50, ge=1, le=10_000, description="most best-response rounds per step")
    k_search_rounds: int = Field(3, ge=1, le=1000, description="best-response rounds per step in which labs may "
                                 "change their inference multipliers; later rounds reprice only")
    model_cycle: int = Field(4, ge=1, description="steps between pre-training decisions")
    training_steps: int = Field(2, ge=1, description="steps a training run lasts")
    training_multiples: list[float] = Field(
        default_factory=lambda: [0.3, 1.0, 3.0, 10.0],
        description="candidate next-model compute as multiples of the lab's current model (keeping it is always an "
        "option)")
    frontier_multiples: list[float] = Field(
        default_factory=lambda: [0.3, 1.0, 3.0, 10.0],
        description="candidate next-model compute as multiples of the frontier model")
    horizon_cycles: int = Field(3, ge=1, le=100, description="model cycles over which a training option is valued")
    discount_rate: float = Field(0.10, ge=0, lt=1, description="discount rate of labs and investors [per year]")
    distill_ratio: float = Field(0.1, gt=0, le=1, description="active parameters of the distilled variant over "
                                 "the full model's")
    distill_penalty: float = Field(0.7, ge=0, description="capability lost by distillation [eOOM]")
    opex: float = Field(1e9, ge=0, description="fixed operating cost per step [$]")
    opex_revenue_share: float = Field(0.0, ge=0, lt=1, description="operating cost proportional to revenue [0-1]")
    financing_multiple: float = Field(
        0.25, ge=0, description="external financing per year as a multiple of annual revenue (booked each step as "
        "this multiple times the step's revenue)")
    exit_after: int = Field(4, ge=1, description="steps of negative cash before exit")
    tiers: int = Field(1, ge=1, le=8, description="offers per lab and task type")
    price_tolerance: float = Field(1e-12, gt=0, lt=1e-3, description="relative tolerance of the price fixed point")
    price_iterations: int = Field(500, ge=1, description="maximum iterations of the price fixed point")
    roster: list[LabEntry] = Field(default_factory=list, description="initial labs")
    @field_validator("k_grid")
    @classmethod
    def _grid_increasing_from_one(cls, grid: list[float]) -> list[float]:
        if not grid or grid[0] != 1.0 or any(b <= a for a, b in zip(grid, grid[1:], strict=False)):
            raise ValueError("must be strictly increasing and start at 1")
        return grid

    @field_validator("training_multiples", "frontier_multiples")
    @classmethod
    def _multiples_increasing(cls, multiples: list[float]) -> list[float]:
        return _increasing_non_negative(multiples)

    @field_validator("roster")
    @classmethod
    def _roster_valid(cls, roster: list[LabEntry]) -> list[LabEntry]:
        if not roster:
            raise ValueError("must list at least one lab")
        names = [lab.name for lab in roster]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"lab names must be unique (duplicated: {', '.join(duplicates)})")
        return roster


class EntrySettings(_Section):
    """Free entry against sunk costs (docs/ODD.md §7.10)."""

    arrivals: float = Field(1.0, ge=0, le=1000, description="potential entrants per year (Poisson mean)")
    cash: float = Field(2e10, ge=0, description="investors' cash an entrant can commit [$]")
    cost: float = Field(1e9, ge=0, description="sunk entry cost: staff, infrastructure, go-to-market [$]")
    adapt_cost: float = Field(1e8, ge=0, description="cost of adapting the best open-weight model [$]")
    frontier_multiples: list[float] = Field(
        default_factory=lambda: [0.01, 0.1, 0.3],
        description="an entrant's own model as multiples of the frontier model's raw compute")
    active_fraction: float = Field(0.25, gt=0, le=1, description="active fraction of an entrant's own model")
    strategy: Strategy = Field("optimise", description="lab strategy of entrants")

    @field_validator("frontier_multiples")
    @classmethod
    def _multiples_increasing(cls, multiples: list[float]) -> list[float]:
        return _increasing_non_negative(multiples)


class OpenSettings(_Section):
    """Open-weight releases (docs/ODD.md §7.7-§7.10)."""

    lag: int = Field(0, ge=0, description="steps between a model's release and its weights' release")


class IdaSettings(_Section):
    """Inference during training: iterated distillation and amplification (docs/ODD.md §7.7-§7.10)."""

    enabled: bool = Field(False, description="whether labs may spend inference compute on training data")
    exchange_rate: float = Field(0.5, ge=0, description="eOOM per OOM of (1 + C_ida / C_raw)")
    multiples: list[float] = Field(
        default_factory=lambda: [0.0, 1.0, 10.0], description="candidate C_ida as multiples of C_raw"
    )

    @field_validator("multiples")
    @classmethod
    def _multiples_non_empty(cls, multiples: list[float]) -> list[float]:
        if not multiples or any(m < 0 for m in multiples):
            raise ValueError("must be a non-empty list of non-negative multiples (0 = a model without IDA)")
        return multiples


class RegulatorSettings(_Section):
    """Compute-threshold regulation (docs/ODD.md §7.12)."""

    policy: Literal["none", "training_threshold", "effective_threshold", "capability_threshold"] = "none"
    threshold_flop: float = Field(1e25, gt=0, description="compute threshold [FLOP]")
    index_to_algorithmic_progress: bool = Field(
        False, description="test effective training compute C * A(t_trained) against the threshold, so that the "
        "line in raw FLOP falls as algorithms improve"
    )
    compliance_cost: float = Field(1e7, ge=0, description="one-off cost per regulated model [$]")
    delay_steps: int = Field(1, ge=0, description="release delay of a regulated model [steps]")
    capability_level: float = Field(0.5, ge=0, le=1, description="success probability that triggers regulation")
    count_ida_compute: bool = Field(True, description="count IDA inference compute as training compute")


def _increasing_non_negative(multiples: list[float]) -> list[float]:
    increasing = all(b > a for a, b in zip(multiples, multiples[1:], strict=False))
    if not multiples or any(m < 0 for m in multiples) or not increasing:
        raise ValueError("must be a non-empty, strictly increasing list of non-negative multiples")
    return multiples


def task_user_counts(count: int, mix: list[float]) -> list[int]:
    """Users per task type: ``floor(mix * count)``, the remainder going to the largest share."""
    counts = [int(math.floor(share * count)) for share in mix]
    counts[max(range(len(mix)), key=lambda j: mix[j])] += count - sum(counts)
    return counts


class Scenario(_Section):
    """A complete, validated scenario."""

    run: RunSettings = RunSettings()
    time: TimeSettings = TimeSettings()
    compute: ComputeSettings = ComputeSettings()
    capability: CapabilitySettings = CapabilitySettings()
    tasks: list[TaskType] = Field(default_factory=_default_tasks)
    demand: DemandSettings = DemandSettings()
    users: UserSettings = UserSettings()
    labs: LabSettings
    entry: EntrySettings = EntrySettings()
    open: OpenSettings = OpenSettings()
    ida: IdaSettings = IdaSettings()
    regulator: RegulatorSettings = RegulatorSettings()

    @model_validator(mode="after")
    def _cross_checks(self) -> Scenario:
        names = [t.name for t in self.tasks]
        if not names:
            raise ValueError("tasks: must list at least one task type")
        if len(set(names)) != len(names):
            raise ValueError("tasks: task type names must be unique")
        mix = self.users.task_mix
        if mix is not None and len(mix) != len(names):
            raise ValueError(f"users.task_mix: must have one share per task type ({len(names)})")
        counts = task_user_counts(self.users.count, mix if mix is not None else [1.0 / len(names)] * len(names))
        empty = [name for name, c in zip(names, counts, strict=True) if c == 0]
        if empty:
            raise ValueError(f"users.task_mix: every task type needs at least one of the users.count = "
                             f"{self.users.count} users ('{empty[0]}' gets none)")
        for lab in self.labs.roster:
            for field in ("k", "share"):
                unknown = sorted(set(getattr(lab, field)) - set(names))
                if unknown:
                    raise ValueError(f"labs.roster.{lab.name}.{field}: unknown task type '{unknown[0]}' "
                                     f"(allowed: {', '.join(names)})")
        for task in names:
            total = sum(lab.share.get(task, 0.0) for lab in self.labs.roster)
            if total >= 1.0:
                raise ValueError(f"labs.roster.share: the roster's shares on task type '{task}' sum to {total:.6g}; "
                                 "they must sum to less than 1 (the rest is the outside option)")
        return self

    @property
    def task_names(self) -> list[str]:
        return [t.name for t in self.tasks]


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The fully resolved scenario (defaults included) as a JSON-safe nested dict."""
    return scenario.model_dump(mode="json")


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 (hex) of the scenario's canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(scenario_to_dict(scenario), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
