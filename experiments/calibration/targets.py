"""Calibration targets: the targets file, model-against-target evaluation and the table printed.

A targets file (``scenarios/targets_2025.toml``) is TOML with an optional top-level ``description``
string and one ``[[target]]`` table per row::

    [[target]]
    what = "OpenAI revenue, calendar 2025"          # what the row measures, for people
    quantity = "lab_revenue:OpenAI:2025"            # a model quantity (aimarket.experiments.calibration.quantities)
    value = 13e9                                    # the observed value, in the quantity's unit
    tolerance = 2.0                                 # factor: within when 1/2 <= model / value <= 2
    source = "..."                                  # where the value comes from (one source)
    note = "..."                                    # optional: how the value was derived

``value = "roster"`` takes the value from the scenario (only ``share0``: the roster entry's ``share``).
A row whose quantity contains ``*`` expands into one row per roster lab or task type; ``{lab}`` and
``{task}`` in ``what`` are replaced by the names. With ``value = "roster"`` a lab and task type for which
the roster gives no share is skipped.

The factor off of a row is ``max(model / value, value / model)`` (infinite when the model's value is
undefined, zero or negative); a row is within its tolerance when the factor off is at most ``tolerance``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimarket.experiments.calibration.quantities import Quantity, QuantityError, parse_quantity
from aimarket.resources import targets_file
from aimarket.simulation.errors import UserInputError

#: Fields of a ``[[target]]`` table (``note`` is optional).
TARGET_FIELDS = ("what", "quantity", "value", "tolerance", "source", "note")

#: The default targets file, next to the default scenario.
DEFAULT_TARGETS = targets_file()  # the packaged scenarios/targets_2025.toml (aimarket.resources)


class TargetsError(UserInputError):
    """A targets file that cannot be read or is invalid (one line, exit status 2)."""


@dataclass(frozen=True)
class TargetRow:
    """One ``[[target]]`` table as written, validated for form (not yet against a scenario)."""

    index: int
    what: str
    quantity: str
    value: float | str
    tolerance: float
    source: str
    note: str = ""


@dataclass(frozen=True)
class Target:
    """One row against a scenario: a parsed quantity and its numeric target value."""

    what: str
    quantity: Quantity
    value: float
    tolerance: float
    source: str


@dataclass(frozen=True)
class RowResult:
    """A target with the model's value: ``factor`` is the factor off, ``within`` its verdict."""

    target: Target
    model: float
    factor: float
    within: bool

    @property
    def log_ratio(self) -> float:
        """``ln(model / value)``; nan when the model's value is undefined or not positive."""
        if not (self.model > 0 and math.isfinite(self.model)):
            return math.nan
        return math.log(self.model / self.target.value)


def _row_error(path: Path, index: int, raw: Any, message: str) -> TargetsError:
    what = raw.get("what") if isinstance(raw, dict) else None
    label = f"target {index}" + (f" ('{what}')" if isinstance(what, str) and what else "")
    return TargetsError(f"targets file '{path}': {label}: {message}")


def _text(raw: dict, key: str, path: Path, index: int, required: bool = True) -> str:
    value = raw.get(key, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise _row_error(path, index, raw, f"{key}: must be a non-empty string (got {value!r})")
    return value.strip()


def _number(raw: dict, key: str, path: Path, index: int) -> float:
    value = raw.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _row_error(path, index, raw, f"{key}: must be a finite number (got {value!r})")
    return float(value)


def parse_targets(data: Any, path: Path) -> list[TargetRow]:
    """Validate the form of a targets file's contents (a dict read from TOML)."""
    unknown = sorted(set(data) - {"description", "target"})
    if unknown:
        raise TargetsError(f"targets file '{path}': unknown key '{unknown[0]}' (allowed: description, target)")
    rows = data.get("target")
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        raise TargetsError(f"targets file '{path}': must list at least one [[target]] table")
    parsed = []
    for index, raw in enumerate(rows, start=1):
        extra = sorted(set(raw) - set(TARGET_FIELDS))
        if extra:
            raise _row_error(path, index, raw, f"unknown field '{extra[0]}' (allowed: {', '.join(TARGET_FIELDS)})")
        value = raw.get("value")
        if value != "roster":
            value = _number(raw, "value", path, index)
            if not value > 0:
                raise _row_error(path, index, raw, f"value: must be > 0, or \"roster\" (got {value:g})")
        tolerance = _number(raw, "tolerance", path, index)
        if not tolerance > 1:
            raise _row_error(path, index, raw, f"tolerance: must be a factor > 1 (got {tolerance:g})")
        parsed.append(TargetRow(index, _text(raw, "what", path, index), _text(raw, "quantity", path, index), value,
                                tolerance, _text(raw, "source", path, index), _text(raw, "note", path, index, False)))
    return parsed


def read_targets(path: str | Path) -> list[TargetRow]:
    """Read and validate (for form) the targets file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TargetsError(f"targets file '{path}' does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetsError(f"targets file '{path}' cannot be read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"targets file '{path}' is not valid TOML: {' '.join(str(exc).split())}") from None
    return parse_targets(data, path)


def resolve_targets(rows: list[TargetRow], scenario: Any, path: str | Path = "targets") -> list[Target]:
    """The rows against ``scenario``: quantities parsed, wildcards expanded, roster values looked up."""
    targets = []
    for row in rows:
        try:
            quantities = parse_quantity(row.quantity, scenario)
        except QuantityError as exc:
            raise TargetsError(f"targets file '{path}': target {row.index} ('{row.what}'): {exc}") from None
        found = []
        for quantity in quantities:
            value = row.value
            if value == "roster":
                if quantity.spec.reference is None:
                    raise TargetsError(f"targets file '{path}': target {row.index} ('{row.what}'): value = "
                                       f"\"roster\" only works for share0 quantities (got '{row.quantity}')")
                value = quantity.reference(scenario)
                if value is None:
                    continue
            names = dict(zip(quantity.spec.args, quantity.args, strict=True))
            what = row.what.replace("{lab}", str(names.get("lab", ""))).replace("{task}", str(names.get("task", "")))
            found.append(Target(what, quantity, float(value), row.tolerance, row.source))
        if not found:
            lab, task = quantities[0].args
            raise TargetsError(f"targets file '{path}': target {row.index} ('{row.what}'): value = \"roster\" but "
                               f"the roster gives no share for '{row.quantity}' (labs.roster.{lab}.share.{task} is "
                               f"not set)")
        targets.extend(found)
    return targets


def steps_needed(targets: list[Target], scenario: Any) -> int:
    """The fewest steps that cover every target's years."""
    return max(t.quantity.steps_needed(scenario) for t in targets)


def check_steps(targets: list[Target], scenario: Any, steps: int) -> None:
    """Raise a one-line error naming the first target that ``steps`` steps do not cover."""
    for target in targets:
        needed = target.quantity.steps_needed(scenario)
        if steps < needed:
            raise UserInputError(f"--steps {steps}: target '{target.quantity.text}' needs at least {needed} steps")


def factor_off(model: float, value: float) -> float:
    """``max(model / value, value / model)``; infinite when ``model`` is undefined or not positive."""
    if not (model > 0 and math.isfinite(model)):
        return math.inf
    ratio = model / value
    return max(ratio, 1.0 / ratio)


def evaluate(targets: list[Target], result: Any) -> list[RowResult]:
    """Every target against one run's ``result`` (a :class:`aimarket.simulation.run.SimulationResult`)."""
    rows = []
    for target in targets:
        model = target.quantity.value(result)
        factor = factor_off(model, target.value)
        rows.append(RowResult(target, model, factor, factor <= target.tolerance * (1 + 1e-12)))
    return rows


def _fmt(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4g}"


def table_lines(rows: list[RowResult]) -> list[str]:
    """The model-against-target table, one line per row, then a line counting the rows within."""
    header = ("what", "quantity", "model", "target", "factor off", "tolerance", "")
    body = [(r.target.what, r.target.quantity.text, _fmt(r.model), _fmt(r.target.value), _fmt(r.factor),
             f"{r.target.tolerance:g}", "ok" if r.within else "OUTSIDE") for r in rows]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    right = {2, 3, 4, 5}

    def line(cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths,
                                                                                                   strict=True)))
    inside = sum(r.within for r in rows)
    return [line(header).rstrip(), *(line(cells).rstrip() for cells in body),
            f"{inside} of {len(rows)} rows within tolerance"]
