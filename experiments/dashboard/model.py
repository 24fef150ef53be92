"""The dashboard's model: the market model of a scenario with the page's inputs applied, and the
series the page plots, collected by Mesa's DataCollector after every step.

:class:`DashboardModel` is a Mesa model whose keyword arguments are the dashboard's controls (dotted
scenario keys in widget units, see :mod:`aimarket.experiments.dashboard.controls`) and ``scenario_path``.
It builds the scenario with :func:`aimarket.simulation.scenario.loading.load_scenario` and steps a
:class:`aimarket.simulation.model.MarketModel` with the scenario's seed, so its numbers are exactly those of
``aimarket run`` with the same ``--set`` options. The model is built with step 0 done (the 2025
market, brand terms solved, docs/ODD.md §7.4), so the page opens on it and each Step adds a quarter.
A scenario the inputs make invalid does not raise: the page shows :attr:`DashboardModel.error` and the
model does not step.
"""

from __future__ import annotations

import math
from typing import Any

import mesa

from aimarket.experiments.dashboard import controls
from aimarket.simulation.errors import ScenarioError
from aimarket.simulation.scenario.loading import load_scenario

#: Revenue-share series drawn per lab: the labs with the largest shares are named, the rest grouped.
NAMED_LABS = 6


def series_names(task_names: list[str]) -> dict[str, str]:
    """``{series name: timeseries column}`` of every plotted series (columns in docs/outputs.md)."""
    names = {"HHI": "hhi", "labs": "n_labs", "inference share": "inference_share",
             "regulated share": "regulated_share", "evading labs": "evading_labs",
             "pre-training frontier": "frontier_eoom"}
    for task in task_names:
        names[f"price, {task}"] = f"price_{task}"
    for task in task_names:
        names[f"frontier, {task}"] = f"frontier_eoom_{task}"
    return names


def _number(value: Any) -> float:
    """A timeseries value as a float (NaN for a null: undefined that step, see docs/outputs.md)."""
    return math.nan if value is None else float(value)


class DashboardModel(mesa.Model):
    """The market model behind the dashboard (see the module docstring).

    scenario_path: the scenario file (default scenarios/default.toml); ``**kwargs``: control values
    keyed by dotted scenario key, in widget units (missing controls keep the scenario's value, users
    at most :data:`~aimarket.experiments.dashboard.controls.DASHBOARD_USERS`). The catch-all is named ``kwargs``
    because that is the name Mesa's SolaraViz accepts for parameters not in the signature. ``scenario``
    is Mesa 3.5's own scenario object, which its SolaraViz passes at Reset; it is not used (the aimarket
    scenario comes from ``scenario_path`` and the inputs).
    """

    def __init__(self, scenario_path: str | None = None, scenario: Any = None, **kwargs: Any):
        base = load_scenario(scenario_path)
        overrides = controls.overrides(base, {**controls.defaults(base), **kwargs})
        error = None
        try:
            scenario = load_scenario(scenario_path, overrides)
        except ScenarioError as exc:
            scenario, error = base, str(exc)
        super().__init__(rng=scenario.run.seed)
        #: the scenario with the inputs applied (``Model.scenario`` is Mesa 3.5's own attribute)
        self.config = scenario
        self.overrides = overrides
        self.error: str | None = error
        self.tasks = scenario.task_names
        self.threshold_eoom = math.log10(scenario.regulator.threshold_flop)
        self.series = series_names(self.tasks)
        self.latest: dict[str, Any] = {}
        self.lab_shares: dict[str, list[float]] = {}  # lab name -> revenue share per recorded step
        self._lab_rows = 0
        reporters = {name: (lambda m, column=column: _number(m.latest.get(column))) for name, column in
                     self.series.items()}
        reporters["step"] = lambda m: int(m.latest["step"])
        reporters["year"] = lambda m: float(m.latest["year"])
        reporters["regulation line"] = lambda m: m.threshold_eoom
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.market = None
        if error is None:
            from aimarket.simulation.model import MarketModel

            self.market = MarketModel(scenario, seed=scenario.run.seed)
            # The page opens on step 0, the 2025 market whose brand terms are solved so that its shares are
            # the observed ones (docs/ODD.md §7.4): the heaviest step, so it is paid at Reset, not at Step.
            self.step()
        self.running = self.market is not None and self.steps_done < self.config.run.steps

    @property
    def steps_done(self) -> int:
        """Market steps simulated so far."""
        return len(self.market.recorder.timeseries) if self.market is not None else 0

    def step(self) -> None:
        """One step of the market; then the page's series are collected."""
        if self.market is None:
            return
        self.market.step()
        self.latest = self.market.recorder.timeseries[-1]
        self._collect_lab_shares()
        self.datacollector.collect(self)
        self.running = self.steps_done < self.config.run.steps

    def _collect_lab_shares(self) -> None:
        """Each lab's share of lab revenue this step (0 before it enters and after it exits)."""
        rows = self.market.recorder.labs[self._lab_rows:]
        self._lab_rows = len(self.market.recorder.labs)
        revenue: dict[str, float] = {}
        for row in rows:  # lab-level columns repeat on each of a lab's offers: take one per lab
            revenue[row["name"]] = float(row["lab_revenue"])
        total = sum(revenue.values())
        done = len(next(iter(self.lab_shares.values()), []))
        for name in revenue:
            self.lab_shares.setdefault(name, [0.0] * done)
        for name, shares in self.lab_shares.items():
            shares.append(revenue.get(name, 0.0) / total if total > 0 else math.nan)

    def grouped_lab_shares(self, named: int = NAMED_LABS) -> dict[str, list[float]]:
        """Revenue shares per step of the ``named`` labs with the largest share at the latest step, and
        of the other labs together (``"other labs (n)"``), in decreasing order of the latest share."""
        order = sorted(self.lab_shares, key=lambda n: (-_finite(self.lab_shares[n][-1]), n))
        out = {name: self.lab_shares[name] for name in order[:named]}
        rest = order[named:]
        if rest:
            out[f"other labs ({len(rest)})"] = [sum(v) for v in zip(*(self.lab_shares[n] for n in rest),
                                                                    strict=True)]
        return out


def _finite(value: float) -> float:
    return 0.0 if math.isnan(value) else value
