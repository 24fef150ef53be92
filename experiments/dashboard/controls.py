"""The dashboard's inputs: ONE table of scenario fields, and its translation to Mesa's ``model_params``.

Each row of :data:`CONTROLS` is one input of the page: the dotted scenario key it sets (as given to
``aimarket run --set``), the label shown, the widget kind and its range. A key containing ``{task}``
gives one input per task type of the scenario. ``scale = "log10"`` shows the exponent of the value
(the slider moves in orders of magnitude; the scenario receives ``10 ** exponent``).

When a scenario field is renamed or added, change its row here and nothing else; the test
``tests/test_dashboard.py::test_every_control_is_a_scenario_field`` names a row whose key no longer
exists.
"""

from __future__ import annotations

import math
import typing
from dataclasses import dataclass
from typing import Any

from aimarket.simulation.scenario.schema import Scenario

#: Users sampled by the dashboard's model unless the page sets another count: small enough that a step
#: takes well under 0.5 s of compute on Python 3.11 and 3.12 (the full default scenario samples 5,000;
#: at 2,000 a training-decision step took 0.61 s on Python 3.12, at 1,000 at most 0.28 s).
DASHBOARD_USERS = 1000


@dataclass(frozen=True)
class Control:
    """One input of the dashboard.

    key: dotted scenario key (``{task}`` is replaced by each task type's name); label: text shown;
    kind: ``"float"`` (slider), ``"int"`` (slider), ``"choice"`` (select; the choices are the schema's
    allowed values) or ``"flag"`` (checkbox); low, high, step: slider range in widget units; scale:
    ``"linear"`` or ``"log10"`` (widget units are the exponent of the scenario value).
    """

    key: str
    label: str
    kind: str
    low: float | None = None
    high: float | None = None
    step: float | None = None
    scale: str = "linear"


# fmt: off
#: The dashboard's inputs, in page order.
CONTROLS: tuple[Control, ...] = (
    Control("tasks.{task}.alpha", "α {task} (eOOM/OOM)", "float", 0.0, 1.5, 0.05),
    Control("tasks.{task}.kappa", "κ {task} (OOM)", "float", 0.1, 8.0, 0.1),
    Control("capability.data_wall_raw_flop", "data wall (log10 raw FLOP)", "float", 24.0, 32.0, 0.1),
    Control("users.logit_scale", "logit scale (1/$)", "float", 0.02, 1.0, 0.02),
    Control("regulator.policy", "regulator policy", "choice"),
    Control("regulator.threshold_flop", "threshold (log10 FLOP)", "float", 23.0, 28.0, 0.25, "log10"),
    Control("ida.enabled", "IDA (inference compute in training)", "flag"),
    Control("entry.arrivals", "potential entrants per year", "float", 0.0, 20.0, 0.5),
    Control("demand.market_scale", "market scale (log10 x)", "float", -2.0, 2.0, 0.1, "log10"),
    Control("users.count", "sampled users", "int", 200, 20000, 100),
)

# fmt: on


def expanded(scenario: Scenario) -> list[Control]:
    """CONTROLS with the ``{task}`` rows repeated for each task type of ``scenario``."""
    rows = []
    for control in CONTROLS:
        if "{task}" not in control.key:
            rows.append(control)
            continue
        for task in scenario.task_names:
            rows.append(Control(control.key.format(task=task), control.label.format(task=task), control.kind,
                                control.low, control.high, control.step, control.scale))
    return rows


def scenario_value(scenario: Scenario, key: str) -> Any:
    """The value of dotted ``key`` in ``scenario`` (task types and labs addressed by name)."""
    node: Any = scenario
    for part in key.split("."):
        if isinstance(node, list):
            node = next(item for item in node if getattr(item, "name", None) == part)
        else:
            node = getattr(node, part)
    return node


def choices(key: str) -> list[str]:
    """The allowed values of a choice field, read from the schema's ``Literal`` annotation."""
    section, name = key.split(".")
    annotation = Scenario.model_fields[section].annotation.model_fields[name].annotation
    return [str(v) for v in typing.get_args(annotation)]


def widget_value(control: Control, value: Any) -> Any:
    """A scenario value in the widget's units."""
    if control.kind == "flag":
        return bool(value)
    if control.kind == "choice":
        return str(value)
    if control.scale == "log10":
        return round(math.log10(float(value)), 6)
    return int(value) if control.kind == "int" else float(value)


def scenario_override(control: Control, value: Any) -> Any:
    """A widget value as the scenario value it stands for."""
    if control.kind == "flag":
        return bool(value)
    if control.kind == "choice":
        return str(value)
    if control.scale == "log10":
        return float(10.0 ** float(value))
    return int(round(float(value))) if control.kind == "int" else float(value)


def defaults(scenario: Scenario) -> dict[str, Any]:
    """Widget values of every control at ``scenario`` (users at :data:`DASHBOARD_USERS` at most)."""
    values = {c.key: widget_value(c, scenario_value(scenario, c.key)) for c in expanded(scenario)}
    if "users.count" in values:
        values["users.count"] = min(int(values["users.count"]), DASHBOARD_USERS)
    return values


def overrides(scenario: Scenario, values: dict[str, Any]) -> dict[str, Any]:
    """Scenario overrides ``{dotted key: value}`` for widget ``values`` keyed by control key."""
    by_key = {c.key: c for c in expanded(scenario)}
    unknown = sorted(set(values) - set(by_key))
    if unknown:
        raise KeyError(f"{unknown[0]}: not a dashboard control (controls: {', '.join(by_key)})")
    return {key: scenario_override(by_key[key], value) for key, value in values.items()}


def model_params(scenario: Scenario, scenario_path: str | None) -> dict[str, Any]:
    """Mesa's ``model_params`` for SolaraViz: one user input per control, plus the scenario file."""
    params: dict[str, Any] = {"scenario_path": scenario_path}
    start = defaults(scenario)
    for c in expanded(scenario):
        value = start[c.key]
        if c.kind == "flag":
            params[c.key] = {"type": "Checkbox", "value": value, "label": c.label}
        elif c.kind == "choice":
            params[c.key] = {"type": "Select", "value": value, "values": choices(c.key), "label": c.label}
        else:
            kind = "SliderInt" if c.kind == "int" else "SliderFloat"
            low, high = c.low, c.high
            if not low <= value <= high:  # a scenario outside the usual range: widen the slider to hold it
                low, high = min(low, value), max(high, value)
            params[c.key] = {"type": kind, "value": value, "label": c.label, "min": low, "max": high,
                             "step": c.step}
    return params
