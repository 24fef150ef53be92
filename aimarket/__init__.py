"""aimarket: an agent-based simulator of the AI industry (labs, users, a regulator; Mesa model).

The public API::

    import aimarket
    scenario = aimarket.load_scenario()                      # the packaged default scenario
    scenario = aimarket.load_scenario("my.toml", {"users.count": 5000})
    result = aimarket.simulate(scenario, seed=1, steps=8)    # pyarrow tables and a summary dict
    model = aimarket.MarketModel(users__count=2000, seed=3)  # a mesa.Model: model.step(), model.labs
    aimarket.sweep("experiment.toml", "results/x")           # and aimarket.load, aimarket.sensitivity

The code lives in three sub-packages, ``aimarket.simulation`` (the model), ``aimarket.agents`` (labs,
users, regulator) and ``aimarket.experiments`` (sweeps, questions, figures, the command line); the
scenarios ship as ``aimarket.scenarios`` (see :mod:`aimarket.resources`). Names are imported on first
use, so ``import aimarket`` is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["MarketModel", "__version__", "load", "load_scenario", "sensitivity", "simulate", "sweep"]

#: public name -> module that defines it
_EXPORTS = {
    "load_scenario": "aimarket.simulation.scenario.loading",
    "simulate": "aimarket.simulation.run",
    "MarketModel": "aimarket.simulation.model",
    "sweep": "aimarket.experiments",
    "load": "aimarket.experiments",
    "sensitivity": "aimarket.experiments",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aimarket")
    except PackageNotFoundError:  # a source tree that was not installed
        return "0.1.0"


__version__ = _version()


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aimarket' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
