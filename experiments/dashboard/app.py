"""The aimarket dashboard: Mesa's SolaraViz page of the market model.

Served by ``aimarket dashboard [SCENARIO]`` (which runs ``solara run`` on this file), or directly::

    AIMARKET_DASHBOARD_SCENARIO=scenarios/default.toml solara run experiments/dashboard/app.py

The sidebar holds Mesa's Step / ▶ (play) / Reset buttons and one input per row of
:data:`aimarket.experiments.dashboard.controls.CONTROLS`; changed inputs apply at Reset. The page shows
concentration (HHI, labs), price per task type, revenue shares by lab, frontier capability per task
type with the regulation line, the inference share of compute spend, the regulated share with the
evading labs, and a table of the latest values.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.style  # noqa: E402
import solara  # noqa: E402
from mesa.visualization import SolaraViz  # noqa: E402

from aimarket.experiments.analysis.style import STYLE  # noqa: E402
from aimarket.experiments.dashboard import components as C  # noqa: E402
from aimarket.experiments.dashboard.controls import defaults, model_params  # noqa: E402
from aimarket.experiments.dashboard.model import DashboardModel  # noqa: E402
from aimarket.simulation.scenario.loading import load_scenario  # noqa: E402

#: Environment variable naming the scenario file (unset: scenarios/default.toml).
SCENARIO_VARIABLE = "AIMARKET_DASHBOARD_SCENARIO"

matplotlib.style.use(STYLE)  # Mesa's plot component draws with the current style


@solara.component
def Dashboard(scenario_path: str | None = None):
    """The SolaraViz page for the scenario at ``scenario_path`` (None: the default scenario)."""
    base = solara.use_memo(lambda: load_scenario(scenario_path), [scenario_path])
    model = solara.use_memo(lambda: DashboardModel(scenario_path, **defaults(base)), [scenario_path])
    tasks = base.task_names
    components = [C.concentration, C.prices(tasks), C.lab_shares, C.frontier(tasks), C.inference_share(),
                  C.regulation, C.readout, C.about]
    name = f"aimarket dashboard: {os.path.basename(scenario_path) if scenario_path else 'default.toml'}"
    SolaraViz(model, components=components, model_params=model_params(base, scenario_path), name=name,
                     play_interval=150)


@solara.component
def Page():
    """The page ``solara run`` serves: the dashboard of the scenario named by AIMARKET_DASHBOARD_SCENARIO."""
    Dashboard(os.environ.get(SCENARIO_VARIABLE) or None)
