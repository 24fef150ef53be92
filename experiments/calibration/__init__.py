"""Calibration: compare one run of a scenario with observed targets, and fit parameters to them.

- :mod:`aimarket.experiments.calibration.quantities`: the registry of named model quantities
  (``lab_revenue:OpenAI:2025``, ``price:reasoning:2025``, ...), each computed from one run's outputs;
- :mod:`aimarket.experiments.calibration.targets`: the targets file (``scenarios/targets_2025.toml``), the
  evaluation of every row and the printed table;
- :mod:`aimarket.experiments.calibration.fitting`: least squares on log ratios with scipy, and the calibrated
  scenario written as TOML.

Python API (the same as ``aimarket calibrate``)::

    from aimarket.experiments.calibration import check, read_targets
    rows = check(scenario, read_targets("scenarios/targets_2025.toml"))   # list of RowResult

``run_fn(scenario, seed, steps)`` (default :func:`simulate_run`) is injectable everywhere, so the
machinery can be exercised without the model.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aimarket.experiments.calibration.fitting import (
    FitParameter,
    FitResult,
    RunFunction,
    calibrated_toml,
    fit,
    parse_fit_option,
    simulate_run,
    write_calibrated,
)
from aimarket.experiments.calibration.quantities import (
    QUANTITIES,
    Quantity,
    QuantityError,
    parse_quantity,
    registry_lines,
)
from aimarket.experiments.calibration.targets import (
    DEFAULT_TARGETS,
    RowResult,
    Target,
    TargetRow,
    TargetsError,
    check_steps,
    evaluate,
    read_targets,
    resolve_targets,
    steps_needed,
    table_lines,
)

__all__ = [
    "DEFAULT_TARGETS", "QUANTITIES", "FitParameter", "FitResult", "Quantity", "QuantityError", "RowResult",
    "RunFunction", "Target", "TargetRow", "TargetsError", "calibrate", "calibrated_toml", "check", "evaluate",
    "fit", "parse_fit_option", "prepare", "parse_quantity", "read_targets", "registry_lines", "resolve_targets",
    "simulate_run", "steps_needed", "table_lines", "write_calibrated",
]


def prepare(scenario: Any, rows: Sequence[TargetRow], steps: int | None = None,
            targets_file: str | Path = "targets") -> tuple[list[Target], int]:
    """The rows resolved against ``scenario`` and the steps to run (default: the fewest covering every
    row; a given number too small for some row is a one-line error)."""
    targets = resolve_targets(list(rows), scenario, targets_file)
    steps = steps_needed(targets, scenario) if steps is None else steps
    check_steps(targets, scenario, steps)
    return targets, steps


def check(scenario: Any, rows: Sequence[TargetRow], *, seed: int | None = None, steps: int | None = None,
          run_fn: RunFunction = simulate_run, targets_file: str | Path = "targets") -> list[RowResult]:
    """One run of ``scenario`` (seed default ``run.seed``) against the target ``rows``."""
    targets, steps = prepare(scenario, rows, steps, targets_file)
    return evaluate(targets, run_fn(scenario, scenario.run.seed if seed is None else seed, steps))


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _print_table(title: str, targets_path: Path, seed: int, steps: int, rows: list[RowResult]) -> None:
    print(f"{title} against {_display(targets_path)} (seed {seed}, {steps} steps):")
    print("\n".join(table_lines(rows)))


def calibrate(scenario: Any, *, scenario_label: str, targets_path: str | Path | None = None,
              steps: int | None = None, fit_options: Sequence[str] = (), out: str | Path | None = None,
              max_evals: int = 60, diff_step: float = 0.02, quiet: bool = False, settings: Sequence[str] = (),
              run_fn: RunFunction = simulate_run, now: datetime | None = None) -> int:
    """What ``aimarket calibrate`` does after parsing; returns the exit status (0: every row within its
    tolerance, 1: some row outside). Bad input raises a one-line :class:`UserInputError` before any run.
    ``settings`` (the ``--set`` options already applied to ``scenario``) are recorded in the header."""
    targets_path = Path(DEFAULT_TARGETS if targets_path is None else targets_path)
    targets, steps = prepare(scenario, read_targets(targets_path), steps, _display(targets_path))
    parameters = [parse_fit_option(option, scenario) for option in fit_options]
    if out is not None and not parameters:
        raise TargetsError("--out: only with --fit (it names the calibrated scenario to write)")
    seed = scenario.run.seed
    if not parameters:
        rows = evaluate(targets, run_fn(scenario, seed, steps))
        _print_table(f"calibration of {scenario_label}", targets_path, seed, steps, rows)
        return 0 if all(r.within for r in rows) else 1

    out_path = Path(out) if out is not None else Path("runs") / f"{Path(scenario_label).stem}-calibrated.toml"
    if out_path.is_dir():
        raise TargetsError(f"--out {out_path}: is a folder (give a file name, e.g. calibrated.toml)")

    best = [float("inf")]

    def progress(evaluation: int, cost: float) -> None:
        best[0] = min(best[0], cost)
        if not quiet:
            print(f"fit: evaluation {evaluation}/{max_evals}: sum of squared residuals {cost:.6g} "
                  f"(best {best[0]:.6g})", file=sys.stderr)

    result = fit(scenario, targets, parameters, seed=seed, steps=steps, run_fn=run_fn, max_evals=max_evals,
                 diff_step=diff_step, progress=progress)
    base = " ".join([scenario_label, *(f"--set {option}" for option in settings)])
    text = calibrated_toml(result, base=base, targets_file=_display(targets_path), seed=seed,
                           steps=steps, when=now or datetime.now(UTC))
    print(f"fitted {len(parameters)} parameter(s) in {result.evaluations} evaluations ({result.message}):")
    for parameter, value in zip(result.parameters, result.values, strict=True):
        print(f"  {parameter.key} = {value:.6g} (start {parameter.start:.6g})")
    _print_table("calibration of the fitted scenario", targets_path, seed, steps, result.rows)
    try:
        path = write_calibrated(out_path, text)
    except OSError as exc:
        print(f"aimarket: error: cannot write {out_path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"calibrated scenario: {path}")
    return 0 if all(r.within for r in result.rows) else 1
