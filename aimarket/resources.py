"""The files that ship inside the package, found with :mod:`importlib.resources`.

Layout: the repository's folders install under the package, so relative paths between them are the
same in a source tree and in a wheel::

    repository                       installed package
    scenarios/*.toml                 aimarket/scenarios/*.toml        (package aimarket.scenarios)
    experiments/questions/*.toml     aimarket/experiments/questions/*.toml
    experiments/examples/*           aimarket/experiments/examples/*
    experiments/validation/*.toml    aimarket/experiments/validation/*.toml
    experiments/aimarket.mplstyle    aimarket/experiments/aimarket.mplstyle

So an experiment file's ``scenario = "../../scenarios/default.toml"`` and a scenario's
``extends = "default.toml"`` resolve inside the package wherever it is installed. Every function
returns a real file-system :class:`~pathlib.Path` (the package must be installed as files, as pip does;
a zipped package is refused with an :class:`~aimarket.simulation.errors.EnvironmentFault`).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: Packages that hold data files.
SCENARIOS = "aimarket.scenarios"
EXPERIMENTS = "aimarket.experiments"
QUESTIONS = "aimarket.experiments.questions"


def package_folder(package: str) -> Path:
    """The folder of ``package`` on disk."""
    root = files(package)
    if not isinstance(root, Path):
        from aimarket.simulation.errors import EnvironmentFault

        raise EnvironmentFault(f"{package} is not installed as files on disk ({root!r}); reinstall with pip")
    return root


def scenarios_folder() -> Path:
    """The packaged scenarios (``scenarios/`` in the repository)."""
    return package_folder(SCENARIOS)


def scenario_file(name: str = "default") -> Path:
    """The packaged scenario ``name`` (``default`` or ``default.toml``); the file may not exist."""
    name = str(name)
    return scenarios_folder() / (name if name.endswith(".toml") else f"{name}.toml")


def scenario_names() -> list[str]:
    """Names (file stems) of the packaged scenarios, sorted; the calibration targets are not a scenario."""
    return sorted(p.stem for p in scenarios_folder().glob("*.toml") if p.name != TARGETS_FILE)


#: The calibration targets' file name in the scenarios folder.
TARGETS_FILE = "targets_2025.toml"


def targets_file() -> Path:
    """The packaged calibration targets (``scenarios/targets_2025.toml``)."""
    return scenarios_folder() / TARGETS_FILE


def questions_folder() -> Path:
    """The experiment files of the research questions (``experiments/questions/``)."""
    return package_folder(QUESTIONS)


def validation_folder() -> Path:
    """The experiment files of the validation against theory (``experiments/validation/``)."""
    return package_folder(EXPERIMENTS) / "validation"


def examples_folder() -> Path:
    """The example experiment files (``experiments/examples/``)."""
    return package_folder(EXPERIMENTS) / "examples"


def style_file() -> Path:
    """The publication style of the figures (``experiments/aimarket.mplstyle``)."""
    return package_folder(EXPERIMENTS) / "aimarket.mplstyle"


def templates_folder() -> Path:
    """The report's Jinja templates (``experiments/templates/``)."""
    return package_folder(EXPERIMENTS) / "templates"


__all__ = [
    "examples_folder",
    "package_folder",
    "questions_folder",
    "scenario_file",
    "scenario_names",
    "scenarios_folder",
    "style_file",
    "targets_file",
    "templates_folder",
]
