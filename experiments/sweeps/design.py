"""Designs: which runs an experiment makes and with which seed.

A design is a list of *design points* (one value per factor) built by the experiment's sampler:

- ``grid``: the full factorial of every list factor, in file order (the last factor varies fastest);
- ``lhs``: ``n`` points of a Latin hypercube (:class:`scipy.stats.qmc.LatinHypercube`);
- ``sobol``: ``n * (D + 2)`` points (``n * (2D + 2)`` with second-order indices) of Saltelli's
  scheme on a Sobol' sequence (:func:`SALib.sample.sobol.sample`), D factors;
- ``morris``: ``n * (D + 1)`` points of ``n`` Morris trajectories (:func:`SALib.sample.morris.sample`).

Each point is run ``replications`` times. Runs are numbered point-major (``run_id = point *
replications + replication``). The seeds: ``numpy.random.SeedSequence(root_seed).spawn(n_runs)``
gives one child per run, in run_id order, turned into a 63-bit integer seed stored with the run.
The samplers draw from their own stream, ``SeedSequence(root_seed).generate_state(1)`` (a 32-bit
integer), so adding replications never changes the design points.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from aimarket.experiments.sweeps.factors import ListFactor, RangeFactor
from aimarket.experiments.sweeps.spec import Experiment
from aimarket.simulation.errors import ExperimentError, ScenarioError, UserInputError

BOOKKEEPING = ("run_id", "point", "replication", "seed")


@dataclass(frozen=True)
class Run:
    """One run of a sweep: its id, design point, replication, seed and factor values."""

    run_id: int
    point: int
    replication: int
    seed: int
    values: dict[str, Any]


def sampler_seed(root_seed: int) -> int:
    """The 32-bit seed the samplers (LHS, Sobol scrambling, Morris) use."""
    return int(np.random.SeedSequence(root_seed).generate_state(1, dtype=np.uint32)[0])


def run_seeds(root_seed: int, n_runs: int) -> list[int]:
    """One integer seed in [0, 2**63) per run: the children of ``SeedSequence(root_seed)``."""
    children = np.random.SeedSequence(root_seed).spawn(n_runs)
    return [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


def salib_problem(exp: Experiment) -> dict:
    """The SALib problem of a sampled experiment (bounds in log10 for ``log`` factors)."""
    return {
        "num_vars": len(exp.factors),
        "names": exp.factor_keys,
        "bounds": [list(f.bounds) for f in exp.factors],
    }


def _lhs(d: int, n: int, seed: int, scramble: bool, optimization: str | None) -> np.ndarray:
    from scipy.stats import qmc

    kwargs = {"scramble": scramble, "optimization": optimization}
    try:
        sampler = qmc.LatinHypercube(d=d, rng=np.random.default_rng(seed), **kwargs)
    except TypeError:  # scipy < 1.15 calls it seed
        sampler = qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed), **kwargs)
    return sampler.random(n)


def design_points(exp: Experiment) -> list[dict[str, Any]]:
    """The design points of ``exp`` (a list of {factor key: value}); one empty point if no factor."""
    factors = exp.factors
    if not factors:
        return [{}]
    seed = sampler_seed(exp.root_seed)
    s = exp.sampler
    if exp.method == "grid":
        combos = itertools.product(*[f.values for f in factors])  # type: ignore[union-attr]
        return [dict(zip(exp.factor_keys, combo, strict=True)) for combo in combos]
    if exp.method == "lhs":
        unit = _lhs(len(factors), s["n"], seed, s["scramble"], s.get("optimization"))
        return [{f.key: f.from_unit(float(u)) for f, u in zip(factors, row, strict=True)} for row in unit]
    problem = salib_problem(exp)
    if exp.method == "sobol":
        from SALib.sample import sobol

        x = sobol.sample(
            problem, s["n"], calc_second_order=s["calc_second_order"], scramble=s["scramble"], seed=seed
        )
    else:
        from SALib.sample import morris

        x = morris.sample(
            problem,
            s["n"],
            num_levels=s["levels"],
            optimal_trajectories=s.get("optimal_trajectories"),
            local_optimization=s["local_optimization"],
            seed=seed,
        )
    return [
        {f.key: f.from_problem(float(v)) for f, v in zip(factors, row, strict=True)}  # type: ignore
        for row in x
    ]


def build_runs(exp: Experiment) -> list[Run]:
    """Every run of ``exp`` in run_id order, with its seed."""
    points = design_points(exp)
    n_runs = len(points) * exp.replications  # at most 10,000,000: checked from the counts when parsed
    seeds = run_seeds(exp.root_seed, n_runs)
    runs = []
    for p, values in enumerate(points):
        for r in range(exp.replications):
            rid = p * exp.replications + r
            runs.append(Run(rid, p, r, seeds[rid], values))
    return runs


def design_table(exp: Experiment, runs: list[Run]) -> pa.Table:
    """The design as a table: run_id, point, replication, one column per factor (named by its
    dotted key), seed."""
    cols: dict[str, pa.Array] = {
        "run_id": pa.array([r.run_id for r in runs], pa.int64()),
        "point": pa.array([r.point for r in runs], pa.int64()),
        "replication": pa.array([r.replication for r in runs], pa.int64()),
    }
    for f in exp.factors:
        values = [r.values[f.key] for r in runs]
        if isinstance(f, RangeFactor):
            typ = pa.int64() if f.integer else pa.float64()
        else:
            sample = f.values[0]
            typ = (
                pa.bool_()
                if isinstance(sample, bool)
                else pa.string()
                if isinstance(sample, str)
                else pa.float64()
                if any(isinstance(v, float) for v in f.values)
                else pa.int64()
            )
        cols[f.key] = pa.array(values, typ)
    cols["seed"] = pa.array([r.seed for r in runs], pa.int64())
    return pa.table(cols)


def run_overrides(exp: Experiment, run: Run) -> dict[str, Any]:
    """Overrides that turn the resolved base scenario into this run's scenario."""
    return {**run.values, "run.seed": run.seed}


def load_base_scenario(exp: Experiment):
    """The base scenario with the experiment's overrides and ``steps`` applied (a Scenario)."""
    from aimarket.simulation.scenario.loading import load_scenario
    from aimarket.simulation.scenario.overrides import apply_overrides

    try:
        base = load_scenario(exp.scenario_path)
    except UserInputError as exc:
        raise ExperimentError(f"scenario: {_line(exc)}") from None
    extra = dict(exp.overrides)
    if exp.steps is not None:
        extra["run.steps"] = exp.steps
    try:
        return apply_overrides(base, extra) if extra else base
    except UserInputError as exc:
        raise ExperimentError(f"overrides: {_line(exc)}") from None


def check_strategies(scenario) -> None:
    """Raise :class:`ScenarioError` if a roster lab names a strategy that is not registered."""
    from aimarket.agents.strategies import available_strategies

    allowed = available_strategies()
    for lab in scenario.labs.roster:
        if lab.strategy not in allowed:
            raise ScenarioError(
                f"scenario field 'labs.roster.{lab.name}.strategy': unknown strategy '{lab.strategy}' "
                f"(allowed: {', '.join(allowed)})"
            )


def validate_against_scenario(exp: Experiment, base, runs: list[Run]) -> None:
    """Check every factor key and value against the scenario schema (strict types: a string is not a
    number) and the registered strategies: each factor's values (a list's values, a range's low and
    high) applied one at a time, then the first design point whole. Nothing is simulated."""
    from aimarket.simulation.scenario.overrides import apply_overrides

    try:
        check_strategies(base)
    except UserInputError as exc:
        raise ExperimentError(f"scenario: {_line(exc)}") from None
    for f in exp.factors:
        probes = (
            f.values
            if isinstance(f, ListFactor)
            else (f.from_problem(f.bounds[0]), f.from_problem(f.bounds[1]))
        )
        for value in probes:
            try:
                check_strategies(apply_overrides(base, {f.key: value}))
            except UserInputError as exc:
                raise ExperimentError(f"factors.{f.key}: {_line(exc)}") from None
    if runs:
        try:
            check_strategies(apply_overrides(base, run_overrides(exp, runs[0])))
        except UserInputError as exc:
            raise ExperimentError(
                f"factors: the first design point is not a valid scenario: {_line(exc)}"
            ) from None


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
