"""Named model quantities for calibration: one number computed from one run's outputs.

A quantity is written ``NAME:ARG:ARG...`` (no spaces around the colons), for example
``lab_revenue:OpenAI:2025``. The arguments are, by kind:

- ``LAB``: a roster lab's name, exactly as in ``labs.roster`` (spaces allowed: ``Google DeepMind``);
- ``TASK``: a task-type name of the scenario (``chat``, ``reasoning``, ``agentic`` by default);
- ``YEAR``: a calendar year (``2025``, or ``2025.5``).

``*`` in a ``LAB`` or ``TASK`` position stands for every roster lab or every task type: the target row
is expanded into one row per name. "The steps of YEAR" are the steps whose ``year`` lies in
``[YEAR, YEAR + 1)``; a quantity that uses them needs the run to cover that whole year. "The first step
of YEAR" is the earliest step whose ``year`` lies in that interval. :data:`QUANTITIES` is the registry;
``aimarket calibrate --list-quantities`` prints it.

Columns are read by name (docs/outputs.md). A column that the run's tables do not have is bad input
for the target that needs it: :class:`QuantityError` (exit status 2) names the table and the column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aimarket.simulation.errors import UserInputError

#: Tolerance on calendar-year comparisons [years] (years are sums of float step lengths).
YEAR_EPS = 1e-9


class QuantityError(UserInputError):
    """A quantity that cannot be parsed, or that a run's outputs cannot provide (one line, exit status 2)."""


# --------------------------------------------------------------------------------------------------
# reading a run's tables
# --------------------------------------------------------------------------------------------------


def _column(result: Any, table: str, column: str, text: str) -> list:
    data = getattr(result, table)
    if column not in data.column_names:
        file = f"{table}.parquet"
        raise QuantityError(f"quantity '{text}': {file} has no column '{column}' (this model version does not "
                            f"write it; see docs/outputs.md)")
    return data.column(column).to_pylist()


def _step_years(result: Any, text: str) -> dict[int, float]:
    steps = _column(result, "timeseries", "step", text)
    years = _column(result, "timeseries", "year", text)
    return dict(zip(steps, years, strict=True))


def _span(years: dict[int, float]) -> str:
    return f"{min(years.values()):g}-{max(years.values()):g}" if years else "no steps"


def steps_of_year(result: Any, year: float, text: str) -> list[int]:
    """Steps whose year lies in ``[year, year + 1)``; the run must cover that whole year."""
    years = _step_years(result, text)
    step_length = result.scenario.time.step_years
    inside = [s for s, y in years.items() if year - YEAR_EPS <= y < year + 1 - YEAR_EPS]
    covered = (years and min(years.values()) <= year + YEAR_EPS
               and max(years.values()) + step_length >= year + 1 - YEAR_EPS)
    if not inside or not covered:
        raise QuantityError(f"quantity '{text}': needs every step of {year:g}, but the run's steps span "
                            f"{_span(years)} (use more --steps or an earlier time.start_year)")
    return sorted(inside)


def first_step_of(result: Any, year: float, text: str) -> int:
    """The earliest step whose year lies in ``[year, year + 1)``."""
    years = _step_years(result, text)
    inside = [s for s, y in years.items() if year - YEAR_EPS <= y < year + 1 - YEAR_EPS]
    if not inside:
        raise QuantityError(f"quantity '{text}': needs a step in {year:g}, but the run's steps span "
                            f"{_span(years)} (use more --steps or an earlier time.start_year)")
    return min(inside)


def _per_step(result: Any, column: str, steps: list[int], text: str) -> list[float | None]:
    by_step = dict(zip(_column(result, "timeseries", "step", text),
                       _column(result, "timeseries", column, text), strict=True))
    return [by_step[s] for s in steps]


def _mean(values: list[float | None]) -> float:
    present = [v for v in values if v is not None and math.isfinite(v)]
    return sum(present) / len(present) if present else math.nan


def _lab_rows(result: Any, columns: tuple[str, ...], text: str) -> list[dict]:
    data = {c: _column(result, "labs", c, text) for c in columns}
    return [dict(zip(columns, values, strict=True)) for values in zip(*data.values(), strict=True)]


def _ratio(numerator: float, denominator: float) -> float:
    if denominator is None or numerator is None or not denominator > 0:
        return math.nan
    return numerator / denominator


def _per_year(ratio: float, years: float) -> float:
    return ratio ** (1.0 / years) if ratio > 0 and math.isfinite(ratio) else math.nan


# --------------------------------------------------------------------------------------------------
# the quantities (each takes the run's result, the canonical quantity text, then its arguments)
# --------------------------------------------------------------------------------------------------


def _lab_revenue_by_step(result: Any, text: str, lab: str) -> dict[int, float]:
    """The lab's ``lab_revenue`` per step (repeated on each of its rows in a step: taken once)."""
    rows = _lab_rows(result, ("step", "name", "lab_revenue"), text)
    return {r["step"]: r["lab_revenue"] for r in rows if r["name"] == lab}


def lab_revenue(result: Any, text: str, lab: str, year: float) -> float:
    by_step = _lab_revenue_by_step(result, text, lab)
    return float(sum(by_step.get(step, 0.0) for step in steps_of_year(result, year, text)))


def lab_run_rate(result: Any, text: str, lab: str, year: float) -> float:
    step = first_step_of(result, year, text)
    return _lab_revenue_by_step(result, text, lab).get(step, 0.0) / result.scenario.time.step_years


def roster_revenue(result: Any, text: str, year: float) -> float:
    return sum(lab_revenue(result, text, entry.name, year) for entry in result.scenario.labs.roster)


def market_revenue(result: Any, text: str, year: float) -> float:
    steps = steps_of_year(result, year, text)
    return float(sum(v or 0.0 for v in _per_step(result, "revenue", steps, text)))


def step0_share(result: Any, text: str, lab: str, task: str) -> float:
    first = min(_column(result, "timeseries", "step", text))
    rows = _lab_rows(result, ("step", "name", "task", "share"), text)
    return float(sum(r["share"] for r in rows if r["step"] == first and r["name"] == lab and r["task"] == task))


def roster_share(scenario: Any, text: str, lab: str, task: str) -> float | None:
    """The roster entry's observed step-0 share of ``task`` (``labs.roster.<lab>.share.<task>``)."""
    entry = next(e for e in scenario.labs.roster if e.name == lab)
    shares = getattr(entry, "share", None) or {}
    value = shares.get(task)
    return None if value is None else float(value)


def _yearly_mean(stem: str) -> Callable[..., float]:
    """The mean over the steps of YEAR of the timeseries column ``<stem>_<TASK>`` (null steps skipped)."""

    def compute(result: Any, text: str, task: str, year: float) -> float:
        return _mean(_per_step(result, f"{stem}_{task}", steps_of_year(result, year, text), text))

    return compute


def lerner(result: Any, text: str, year: float) -> float:
    steps = steps_of_year(result, year, text)
    pairs = [(v, w) for v, w in zip(_per_step(result, "lerner", steps, text),
                                    _per_step(result, "revenue", steps, text), strict=True)
             if v is not None and w is not None and w > 0]
    total = sum(w for _, w in pairs)
    return sum(v * w for v, w in pairs) / total if total > 0 else math.nan


def _largest_flop(result: Any, text: str, step: int, open_only: bool) -> float:
    rows = _lab_rows(result, ("step", "training_flop", "open_weights"), text)
    flops = [r["training_flop"] for r in rows if r["step"] == step and (r["open_weights"] or not open_only)]
    return max(flops) if flops else math.nan


def frontier_compute_growth(result: Any, text: str, start: float, end: float) -> float:
    first, last = first_step_of(result, start, text), first_step_of(result, end, text)
    ratio = _ratio(_largest_flop(result, text, last, False), _largest_flop(result, text, first, False))
    return _per_year(ratio, end - start)


def open_gap_compute(result: Any, text: str, year: float) -> float:
    step = first_step_of(result, year, text)
    return _ratio(_largest_flop(result, text, step, False), _largest_flop(result, text, step, True))


def fixed_capability_price_fall(result: Any, text: str, task: str, start: float, end: float) -> float:
    column = f"price_fixed_capability_{task}"
    (p_start,) = _per_step(result, column, [first_step_of(result, start, text)], text)
    (p_end,) = _per_step(result, column, [first_step_of(result, end, text)], text)
    return _per_year(_ratio(p_start, p_end), end - start)


# --------------------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuantitySpec:
    """One named quantity: its arguments (kinds ``lab``, ``task``, ``year``), unit and definition.

    ``needs`` lists what of the calendar the run must cover, as arguments' positions: ``"year:i"``
    (every step of the year given by argument i) or ``"at:i"`` (the first step of that year).
    ``reference`` gives the target's value from the scenario when a target row says ``value = "roster"``.
    """

    name: str
    args: tuple[str, ...]
    unit: str
    definition: str
    compute: Callable[..., float]
    needs: tuple[str, ...]
    reference: Callable[..., float | None] | None = None

    @property
    def syntax(self) -> str:
        return ":".join((self.name, *(a.upper() for a in self.args)))


QUANTITIES: dict[str, QuantitySpec] = {spec.name: spec for spec in (
    QuantitySpec("lab_revenue", ("lab", "year"), "USD",
                 "sum over the steps of YEAR of the lab's lab_revenue (labs.parquet, one row per step x lab)",
                 lab_revenue, ("year:1",)),
    QuantitySpec("lab_run_rate", ("lab", "year"), "USD/year",
                 "the lab's lab_revenue at the first step of YEAR divided by time.step_years (annualised, as a "
                 "reported run rate)",
                 lab_run_rate, ("at:1",)),
    QuantitySpec("roster_revenue", ("year",), "USD",
                 "sum of lab_revenue:LAB:YEAR over the roster labs (entrants excluded)",
                 roster_revenue, ("year:0",)),
    QuantitySpec("revenue", ("year",), "USD",
                 "sum over the steps of YEAR of timeseries revenue (every lab, entrants included)",
                 market_revenue, ("year:0",)),
    QuantitySpec("share0", ("lab", "task"), "0-1",
                 "the lab's share on TASK at the first step, summed over its offers (labs.parquet share); "
                 "value = \"roster\" compares it with labs.roster.LAB.share.TASK",
                 step0_share, (), roster_share),
    QuantitySpec("price", ("task", "year"), "USD/task",
                 "mean over the steps of YEAR of timeseries price_TASK (null steps skipped)",
                 _yearly_mean("price"), ("year:1",)),
    QuantitySpec("tier_price_ratio", ("task", "year"), "x",
                 "mean over the steps of YEAR of timeseries tier_price_ratio_TASK (null steps skipped)",
                 _yearly_mean("tier_price_ratio"), ("year:1",)),
    QuantitySpec("lerner", ("year",), "0-1",
                 "mean over the steps of YEAR of timeseries lerner, weighted by each step's revenue",
                 lerner, ("year:0",)),
    QuantitySpec("frontier_compute_growth", ("year", "year"), "x/year",
                 "(largest training_flop in labs.parquet at the first step of the second YEAR / the same at the "
                 "first step of the first YEAR) ^ (1 / years between them)",
                 frontier_compute_growth, ("at:0", "at:1")),
    QuantitySpec("open_gap_compute", ("year",), "x",
                 "largest training_flop over the largest open-weights training_flop (labs.parquet) at the first "
                 "step of YEAR",
                 open_gap_compute, ("at:0",)),
    QuantitySpec("fixed_capability_price_fall", ("task", "year", "year"), "x/year",
                 "(timeseries price_fixed_capability_TASK at the first step of the first YEAR / the same at the "
                 "first step of the second YEAR) ^ (1 / years between them)",
                 fixed_capability_price_fall, ("at:1", "at:2")),
)}


@dataclass(frozen=True)
class Quantity:
    """A parsed quantity with its arguments (wildcards already expanded)."""

    spec: QuantitySpec
    args: tuple[Any, ...]
    text: str

    def value(self, result: Any) -> float:
        """The quantity in one run (nan when the run leaves it undefined)."""
        value = self.spec.compute(result, self.text, *self.args)
        return math.nan if value is None else float(value)

    def reference(self, scenario: Any) -> float | None:
        """The target value the scenario itself gives for this quantity (``value = "roster"``)."""
        if self.spec.reference is None:
            return None
        return self.spec.reference(scenario, self.text, *self.args)

    def steps_needed(self, scenario: Any) -> int:
        """The fewest steps from step 0 that cover the years this quantity reads (at least 1)."""
        start, length = scenario.time.start_year, scenario.time.step_years
        needed = 1
        for need in self.spec.needs:
            kind, _, index = need.partition(":")
            year = self.args[int(index)]
            if year < start - YEAR_EPS:
                raise QuantityError(f"quantity '{self.text}': year {year:g} is before the scenario's first "
                                    f"step (time.start_year = {start:g})")
            until = year + 1 if kind == "year" else year
            steps = math.ceil((until - start) / length - YEAR_EPS)
            needed = max(needed, steps if kind == "year" else steps + 1)
        return needed


def _parse_year(text: str, whole: str) -> float:
    try:
        year = float(text)
    except ValueError:
        year = math.nan
    if not math.isfinite(year) or not 1950 <= year <= 2200:
        raise QuantityError(f"quantity '{whole}': '{text}' is not a calendar year (e.g. 2025)")
    return year


def _format_year(year: float) -> str:
    return f"{year:g}"


def parse_quantity(text: str, scenario: Any) -> list[Quantity]:
    """Parse ``NAME:ARG...`` against ``scenario``; ``*`` arguments expand into one quantity per name."""
    if not isinstance(text, str) or not text.strip():
        raise QuantityError(f"quantity {text!r}: must be a string NAME:ARG... (allowed names: "
                            f"{', '.join(QUANTITIES)})")
    name, *raw = text.strip().split(":")
    spec = QUANTITIES.get(name)
    if spec is None:
        raise QuantityError(f"quantity '{text}': unknown name '{name}' (allowed: {', '.join(QUANTITIES)})")
    if len(raw) != len(spec.args):
        raise QuantityError(f"quantity '{text}': '{name}' takes {len(spec.args)} argument(s): {spec.syntax}")
    labs = [entry.name for entry in scenario.labs.roster]
    tasks = list(scenario.task_names)
    choices: list[list[Any]] = []
    for kind, arg in zip(spec.args, raw, strict=True):
        if kind == "year":
            choices.append([_parse_year(arg, text)])
            continue
        allowed = labs if kind == "lab" else tasks
        if arg == "*":
            choices.append(list(allowed))
        elif arg in allowed:
            choices.append([arg])
        else:
            what = "roster lab" if kind == "lab" else "task type"
            raise QuantityError(f"quantity '{text}': unknown {what} '{arg}' (allowed: {', '.join(allowed)}, or *)")
    quantities = [[]]
    for options in choices:
        quantities = [[*prefix, option] for prefix in quantities for option in options]
    return [Quantity(spec, tuple(args),
                     ":".join((name, *(_format_year(a) if isinstance(a, float) else a for a in args))))
            for args in quantities]


def registry_lines() -> list[str]:
    """The registry as text: one quantity per entry, its syntax, unit and definition."""
    lines = []
    for spec in QUANTITIES.values():
        lines.append(f"{spec.syntax}  [{spec.unit}]")
        lines.append(f"    {spec.definition}")
    return lines
