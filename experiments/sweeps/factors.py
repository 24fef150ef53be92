"""The factors and the sampler of an experiment file (:mod:`aimarket.experiments.sweeps.spec`): the factor
types, the checks of their values and of the ``[sampler]`` section, and the size of the design they make.

Every error is an :class:`~aimarket.simulation.errors.ExperimentError` whose message is one line naming the
field and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from aimarket.simulation.errors import ExperimentError

RANGE_KEYS = {"low", "high", "log", "integer"}
MAX_RUNS = 10_000_000



@dataclass(frozen=True)
class RangeFactor:
    """A continuous factor sampled between ``low`` and ``high`` (in log10 space when ``log``).

    ``integer`` rounds sampled values to the nearest integer (for integer scenario fields).
    """

    key: str
    low: float
    high: float
    log: bool = False
    integer: bool = False

    @property
    def bounds(self) -> tuple[float, float]:
        """Bounds of the sampled (problem) space: log10 of the range when ``log``."""
        if self.log:
            return (math.log10(self.low), math.log10(self.high))
        return (self.low, self.high)

    def from_unit(self, u: float) -> float | int:
        """Map ``u`` in [0, 1] to a factor value."""
        lo, hi = self.bounds
        return self.from_problem(lo + u * (hi - lo))

    def from_problem(self, x: float) -> float | int:
        """Map a point of the sampled (problem) space to a factor value."""
        value = 10.0**x if self.log else float(x)
        value = min(max(value, self.low), self.high)
        return int(round(value)) if self.integer else value

    def to_problem(self, value: float) -> float:
        """Inverse of :meth:`from_problem` (used to rebuild SALib's sample matrix)."""
        return math.log10(value) if self.log else float(value)


@dataclass(frozen=True)
class ListFactor:
    """A factor taking each of ``values`` (full factorial design)."""

    key: str
    values: tuple


def is_range(value: dict) -> bool:
    return "low" in value or "high" in value


def type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "float", str: "string", list: "list", dict: "table"}.get(
        type(value), type(value).__name__
    )


def int_value(
    raw: dict, key: str, default: int | None, *, low: int, high: int | None = None, where: str = ""
) -> int | None:
    value = raw.get(key, default)
    name = f"{where}{key}"
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ExperimentError(f"{name}: must be an integer (got {type_name(value)} {value!r})")
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"between {low} and {high}"
        raise ExperimentError(f"{name}: must be {allowed} (got {value})")
    return value


def bool_value(raw: dict, key: str, default: bool, where: str = "") -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise ExperimentError(f"{where}{key}: must be true or false (got {type_name(value)} {value!r})")
    return value


def number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExperimentError(f"{name}: must be a finite number (got {type_name(value)} {value!r})")
    return float(value)


def parse_factor(key: str, value: Any) -> RangeFactor | ListFactor:
    name = f"factors.{key}"
    if isinstance(value, dict):
        unknown = sorted(set(value) - RANGE_KEYS)
        if unknown:
            raise ExperimentError(f"{name}.{unknown[0]}: unknown key (allowed: low, high, log, integer)")
        for bound in ("low", "high"):
            if bound not in value:
                raise ExperimentError(f"{name}: a range needs both low and high (missing {bound})")
        low, high = number(value["low"], f"{name}.low"), number(value["high"], f"{name}.high")
        if not low < high:
            raise ExperimentError(f"{name}: empty range, low must be < high (got low={low:g}, high={high:g})")
        log = bool_value(value, "log", False, f"{name}.")
        if log and low <= 0:
            raise ExperimentError(f"{name}.low: must be > 0 when log = true (got {low:g})")
        integer = bool_value(value, "integer", False, f"{name}.")
        if integer and math.ceil(low) > math.floor(high):
            raise ExperimentError(f"{name}: integer range holds no integer (low={low:g}, high={high:g})")
        return RangeFactor(key, low, high, log, integer)
    if isinstance(value, list):
        if not value:
            raise ExperimentError(f"{name}: empty list of values (give at least one)")
        kinds = set()
        for v in value:
            if isinstance(v, bool):
                kinds.add("boolean")
            elif isinstance(v, int | float):
                if isinstance(v, float) and not math.isfinite(v):
                    raise ExperimentError(f"{name}: values must be finite (got {v!r})")
                kinds.add("number")
            elif isinstance(v, str):
                kinds.add("string")
            else:
                raise ExperimentError(
                    f"{name}: values must be numbers, strings or booleans (got {type_name(v)} {v!r})"
                )
        if len(kinds) > 1:
            raise ExperimentError(f"{name}: values must all have one type (got {', '.join(sorted(kinds))})")
        if len(set(value)) != len(value):
            raise ExperimentError(f"{name}: duplicate values in {value!r}")
        if kinds == {"number"} and any(isinstance(v, float) for v in value):
            value = [float(v) for v in value]
        return ListFactor(key, tuple(value))
    raise ExperimentError(
        f"{name}: must be a list of values or a range {{low = ..., high = ...}} "
        f"(got {type_name(value)} {value!r})"
    )


def design_points_count(method: str, sampler: dict[str, Any], factors: tuple) -> int:
    """How many design points the sampler makes, computed from the factor counts alone (nothing is
    built): grid the product of the list lengths; lhs n; sobol n (D + 2), or n (2D + 2) with
    second-order indices; morris (optimal_trajectories or n) (D + 1)."""
    d = len(factors)
    if method == "grid":
        return math.prod(len(f.values) for f in factors)
    n = sampler["n"]
    if method == "lhs":
        return n
    if method == "sobol":
        return n * (2 * d + 2 if sampler["calc_second_order"] else d + 2)
    return sampler.get("optimal_trajectories", n) * (d + 1)


def check_design_size(method: str, sampler: dict[str, Any], factors: tuple, replications: int) -> None:
    points = design_points_count(method, sampler, factors)
    n_runs = points * replications
    if n_runs > MAX_RUNS:
        raise ExperimentError(
            f"factors: the design has {n_runs:,} runs ({points:,} design points x {replications} replications; "
            f"at most {MAX_RUNS:,}): use fewer factor values, a smaller sampler.n or fewer replications"
        )


def parse_sampler(method: str, raw: dict, factors: tuple) -> dict[str, Any]:
    where = "sampler."
    if method == "grid":
        ranged = [f.key for f in factors if isinstance(f, RangeFactor)]
        if ranged:
            raise ExperimentError(f"factors.{ranged[0]}: method 'grid' needs a list of values, not a range")
        return {}
    listed = [f.key for f in factors if isinstance(f, ListFactor)]
    if listed:
        raise ExperimentError(
            f"factors.{listed[0]}: method '{method}' needs a range {{low = ..., high = ...}}, not a list"
        )
    if not factors:
        raise ExperimentError(f"factors: method '{method}' needs at least one factor range")
    if "n" not in raw:
        raise ExperimentError(f"sampler.n: missing (the number of samples for method '{method}')")
    n = int_value(raw, "n", None, low=2 if method == "morris" else 1, high=MAX_RUNS, where=where)
    if method == "lhs":
        opt = raw.get("optimization", None)
        if opt not in (None, "random-cd", "lloyd"):
            raise ExperimentError(f"sampler.optimization: must be 'random-cd' or 'lloyd' (got {opt!r})")
        out = {"n": n, "scramble": bool_value(raw, "scramble", True, where)}
        if opt is not None:
            out["optimization"] = opt
        return out
    if method == "sobol":
        if n & (n - 1):
            raise ExperimentError(f"sampler.n: must be a power of 2 for method 'sobol' (got {n})")
        return {
            "n": n,
            "calc_second_order": bool_value(raw, "calc_second_order", False, where),
            "scramble": bool_value(raw, "scramble", True, where),
        }
    levels = int_value(raw, "levels", 4, low=2, high=1000, where=where)
    out = {"n": n, "levels": levels, "local_optimization": bool_value(raw, "local_optimization", True, where)}
    optimal = int_value(raw, "optimal_trajectories", None, low=2, high=None, where=where)
    if optimal is not None:
        if optimal >= n:
            raise ExperimentError(f"sampler.optimal_trajectories: must be < n (got {optimal}, n = {n})")
        out["optimal_trajectories"] = optimal
    return out


__all__ = ["RangeFactor", "ListFactor", "MAX_RUNS", "design_points_count", "parse_factor", "parse_sampler",
           "check_design_size", "is_range", "type_name", "int_value", "bool_value", "number"]
