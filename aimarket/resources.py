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

import tomllib
from importlib.resources import files
from pathlib import Path

#: Packages that hold data files.
SCENARIOS = "aimarket.scenarios"
EXPERIMENTS = "aimarket.experiments"
QUESTIONS = "aimarket.experiments.questions"
ANALYSIS = "aimarket.experiments.analysis"


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
    """The report's Jinja templates (``experiments/analysis/templates/``)."""
    return package_folder(ANALYSIS) / "templates"


# ----------------------------------------------------------------------------- copies (aimarket scenarios)


def describe(path: Path) -> str:
    """The first comment line of a scenario file, without ``#`` (empty when it has none)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    for line in lines:
        text = line.strip()
        if text.startswith("#") and text.lstrip("#").strip():
            return text.lstrip("#").strip()
        if text and not text.startswith("#"):
            break
    return ""


def packaged(name: str) -> Path:
    """The packaged scenario ``name`` (``default`` or ``default.toml``), or a one-line UserInputError."""
    from aimarket.simulation.errors import UserInputError

    names = scenario_names()
    stem = Path(str(name)).name.removesuffix(".toml")
    if stem not in names or Path(str(name)).name != str(name):
        raise UserInputError(f"unknown packaged scenario {name!r} (allowed: {', '.join(names)})")
    return scenario_file(stem)


def base_chain(path: Path) -> list[Path]:
    """``path`` and the packaged files it extends, nearest first."""
    chain = [path]
    while True:
        with chain[-1].open("rb") as fh:
            base = tomllib.load(fh).get("extends")
        if not isinstance(base, str):
            return chain
        nxt = (chain[-1].parent / base).resolve()
        if nxt in chain or not nxt.is_file():
            return chain
        chain.append(nxt)


def copy_scenario(name: str, dest: str | Path, force: bool = False) -> list[Path]:
    """Write the packaged scenario ``name`` and its bases to ``dest``; return the paths written (a file
    already there with the same contents is left as it is and not returned)."""
    from aimarket.simulation.errors import UserInputError
    from aimarket.simulation.output_folders import ensure_writable_folder
    from aimarket.simulation.outputs import atomic_write

    source = packaged(name)
    dest = Path(dest)
    if not str(dest).strip():
        raise UserInputError("DEST: must be a folder or a .toml file path (got '')")
    target = dest / source.name if dest.is_dir() or dest.suffix != ".toml" else dest
    chain = base_chain(source)
    plan = [(source, target)] + [(base, target.parent / base.name) for base in chain[1:]]
    for src, dst in plan:
        if dst.is_dir():
            raise UserInputError(f"{dst}: is a folder (give a .toml file path or a folder to copy into)")
        same = dst.is_file() and dst.read_bytes() == src.read_bytes()
        if dst.exists() and not same and not force:
            raise UserInputError(f"{dst}: exists (use --force to overwrite it)")
    ensure_writable_folder(target.parent, "DEST")
    written = []
    for src, dst in plan:
        data = src.read_bytes()
        if dst.is_file() and dst.read_bytes() == data:
            continue
        written.append(atomic_write(dst, lambda tmp, data=data: tmp.write_bytes(data)))
    return written


__all__ = [
    "base_chain",
    "copy_scenario",
    "describe",
    "examples_folder",
    "packaged",
    "package_folder",
    "questions_folder",
    "scenario_file",
    "scenario_names",
    "scenarios_folder",
    "style_file",
    "targets_file",
    "templates_folder",
]
