"""Fit scenario parameters to calibration targets, and write the calibrated scenario.

The objective is least squares on log ratios: row i contributes the residual
``r_i = ln(model_i / value_i) / ln(tolerance_i)``, so a row is within its tolerance exactly when
``|r_i| <= 1`` and rows are weighted by how precisely they are known. A row the model leaves undefined
(no value, or a value <= 0) contributes :data:`UNDEFINED_RESIDUAL`. Each fitted parameter ``p_j`` is
searched on ``x_j = ln(p_j / p_j,start)`` (so it stays positive) with
``scipy.optimize.least_squares`` (trust-region reflective, optionally bounded), with a finite-difference
Jacobian of step ``diff_step`` in ``x`` and at most ``max_evals`` simulations. Every evaluation runs the
same scenario seed, so the objective is a deterministic function of the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from aimarket.experiments.calibration.targets import RowResult, Target, evaluate
from aimarket.simulation.errors import ScenarioError, UserInputError
from aimarket.simulation.scenario.overrides import apply_overrides
from aimarket.simulation.scenario.schema import scenario_hash, scenario_to_dict

#: Residual of a row the model leaves undefined [tolerances]: as bad as being off by tolerance^10.
UNDEFINED_RESIDUAL = 10.0

#: ``run_fn(scenario, seed, steps)`` returns a :class:`aimarket.simulation.run.SimulationResult`.
RunFunction = Callable[[Any, int, int], Any]


def simulate_run(scenario: Any, seed: int, steps: int) -> Any:
    """The default run function: :func:`aimarket.simulation.run.simulate`."""
    from aimarket.simulation.run import simulate

    return simulate(scenario, seed=seed, steps=steps)


@dataclass(frozen=True)
class FitParameter:
    """A scenario value to fit: its dotted key, starting value and optional bounds (same unit)."""

    key: str
    start: float
    low: float | None = None
    high: float | None = None

    def describe(self) -> str:
        if self.low is None and self.high is None:
            return self.key
        return f"{self.key} in [{'' if self.low is None else f'{self.low:g}'}, " \
               f"{'' if self.high is None else f'{self.high:g}'}]"


@dataclass(frozen=True)
class FitResult:
    """The best parameters found, the scenario with them, its rows and how the search ended."""

    parameters: tuple[FitParameter, ...]
    values: tuple[float, ...]
    scenario: Any
    rows: list[RowResult]
    evaluations: int
    message: str


_MISSING = object()


def scenario_value(scenario: Any, key: str) -> Any:
    """The value at dotted ``key`` of the resolved scenario (items of named lists addressed by name)."""
    node: Any = scenario_to_dict(scenario)
    parts = key.split(".")
    i = 0
    while i < len(parts):
        if isinstance(node, dict) and parts[i] in node:
            node, i = node[parts[i]], i + 1
        elif isinstance(node, list):
            for n in range(len(parts) - i, 0, -1):  # the longest run of parts that names an item
                name = ".".join(parts[i:i + n])
                match = [item for item in node if isinstance(item, dict) and item.get("name") == name]
                if match:
                    node, i = match[0], i + n
                    break
            else:
                return _MISSING
        else:
            return _MISSING
    return node


def _bound(text: str, option: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise UserInputError(f"--fit {option}: bounds must be positive numbers LOW:HIGH (got '{text}')")
    return value


def parse_fit_option(option: str, scenario: Any) -> FitParameter:
    """``KEY`` or ``KEY=LOW:HIGH`` (either bound may be left empty) against ``scenario``."""
    key, has_bounds, bounds = (part.strip() for part in option.partition("="))
    if not key:
        raise UserInputError(f"--fit {option!r}: expected a scenario key, e.g. --fit users.logit_scale")
    value = scenario_value(scenario, key)
    if value is _MISSING:
        apply_overrides(scenario, {key: 1.0})  # raises the schema's one-line error for an unknown field
        raise ScenarioError(f"--fit {key}: the scenario has no value there to start from")
    if isinstance(value, bool) or not isinstance(value, float):
        kind = "an integer" if isinstance(value, int) and not isinstance(value, bool) else type(value).__name__
        raise UserInputError(f"--fit {key}: must name a real-valued parameter (it is {kind}: {value!r})")
    if not value > 0:
        raise UserInputError(f"--fit {key}: the scenario's value must be > 0 to fit its logarithm (got {value:g})")
    low = high = None
    if has_bounds:
        low_text, colon, high_text = bounds.partition(":")
        if not colon:
            raise UserInputError(f"--fit {option}: bounds must be written LOW:HIGH (got '{bounds}')")
        low, high = _bound(low_text, option), _bound(high_text, option)
        if low is not None and high is not None and not low < high:
            raise UserInputError(f"--fit {option}: LOW must be below HIGH")
        if (low is not None and value < low) or (high is not None and value > high):
            raise UserInputError(f"--fit {option}: the scenario's value {value:g} is outside the bounds")
    return FitParameter(key, value, low, high)


def residuals(rows: Sequence[RowResult]) -> np.ndarray:
    """``ln(model / value) / ln(tolerance)`` per row (:data:`UNDEFINED_RESIDUAL` where undefined)."""
    out = np.empty(len(rows))
    for i, row in enumerate(rows):
        ratio = row.log_ratio
        out[i] = UNDEFINED_RESIDUAL if not math.isfinite(ratio) else ratio / math.log(row.target.tolerance)
    return out


class _Budget(Exception):
    """Raised inside the objective when the cap on evaluations is reached."""


def fit(scenario: Any, targets: list[Target], parameters: Sequence[FitParameter], *, seed: int, steps: int,
        run_fn: RunFunction = simulate_run, max_evals: int = 60, diff_step: float = 0.02,
        progress: Callable[[int, float], None] | None = None) -> FitResult:
    """Fit ``parameters`` of ``scenario`` to ``targets`` (see the module docstring); the best point seen."""
    if not parameters:
        raise UserInputError("--fit: give at least one parameter to fit")
    keys = [p.key for p in parameters]
    if len(set(keys)) != len(keys):
        repeated = sorted(k for k in keys if keys.count(k) > 1)[0]
        raise UserInputError(f"--fit {repeated}: given more than once (fit each parameter once)")
    from scipy.optimize import least_squares

    lower = np.array([-np.inf if p.low is None else math.log(p.low / p.start) for p in parameters])
    upper = np.array([np.inf if p.high is None else math.log(p.high / p.start) for p in parameters])
    cache: dict[bytes, np.ndarray] = {}
    best: dict[str, Any] = {}

    def values_at(x: np.ndarray) -> tuple[float, ...]:
        return tuple(p.start * math.exp(xi) for p, xi in zip(parameters, x, strict=True))

    def objective(x: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(x, dtype=float), lower, upper)
        key = x.tobytes()
        if key in cache:
            return cache[key]
        if len(cache) >= max_evals:
            raise _Budget
        values = values_at(x)
        try:
            candidate = apply_overrides(scenario, dict(zip(keys, values, strict=True)))
        except ScenarioError as exc:
            raise UserInputError(f"--fit: the search left the allowed range ({exc}); give bounds, "
                                 f"e.g. --fit {keys[0]}=LOW:HIGH") from None
        rows = evaluate(targets, run_fn(candidate, seed, steps))
        r = residuals(rows)
        cache[key] = r
        cost = float(r @ r)
        if not best or cost < best["cost"]:
            best.update(cost=cost, values=values, scenario=candidate, rows=rows)
        if progress is not None:
            progress(len(cache), cost)
        return r

    try:
        solution = least_squares(objective, np.zeros(len(parameters)), bounds=(lower, upper), method="trf",
                                 diff_step=diff_step, max_nfev=max_evals, x_scale=1.0)
        message = str(solution.message).rstrip(".")
    except _Budget:
        message = f"stopped at the cap of {max_evals} evaluations (--max-evals)"
    return FitResult(tuple(parameters), best["values"], best["scenario"], best["rows"], len(cache), message)


def _without_none(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_none(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [_without_none(v) for v in node]
    return node


def calibrated_toml(result: FitResult, *, base: str, targets_file: str, seed: int, steps: int,
                    when: datetime) -> str:
    """The fitted scenario as TOML (every value resolved), after a comment header saying what was fitted."""
    import tomli_w

    stamp = when.strftime("%Y-%m-%d %H:%M UTC")
    texts = [row.target.quantity.text for row in result.rows]
    lines = [
        f"# Calibrated scenario: fitted by aimarket calibrate on {stamp} against {targets_file} rows",
        *(f"#   {', '.join(texts[i:i + 4])}" for i in range(0, len(texts), 4)),
        f"# Base scenario: {base}; seed {seed}, {steps} steps per evaluation, {result.evaluations} evaluations "
        f"({result.message}).",
        "# Objective: least squares of ln(model / target) / ln(tolerance) over the rows (scipy least_squares).",
        "# Fitted parameters (start -> fitted):",
        *(f"#   {p.describe()}: {p.start:.6g} -> {v!r}" for p, v in zip(result.parameters, result.values,
                                                                      strict=True)),
        "# Residual factors (model / target) after the fit:",
        *(f"#   {row.target.quantity.text}: {_ratio_text(row)} (tolerance {row.target.tolerance:g}, "
          f"{'within' if row.within else 'OUTSIDE'})" for row in result.rows),
        f"# Every value is written resolved (defaults included); scenario_hash {scenario_hash(result.scenario)}.",
        "",
    ]
    return "\n".join(lines) + "\n" + tomli_w.dumps(_without_none(scenario_to_dict(result.scenario)))


def _ratio_text(row: RowResult) -> str:
    return "undefined" if not math.isfinite(row.log_ratio) else f"{math.exp(row.log_ratio):.4g}"


def write_calibrated(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a temporary name in the same folder, then a rename)."""
    from aimarket.simulation.outputs import atomic_write

    return atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
