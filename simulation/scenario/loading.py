"""Read a scenario: the TOML file (or the packaged default), its ``extends`` base, then overrides, then
validation (:mod:`aimarket.simulation.scenario.validation`).

:func:`load_scenario` is the public ``aimarket.load_scenario``. A file that cannot be read, is not
valid TOML or extends itself is a one-line :class:`~aimarket.simulation.errors.ScenarioError`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aimarket.resources import scenario_file
from aimarket.simulation.errors import ScenarioError
from aimarket.simulation.scenario.overrides import apply_overrides, override_pairs
from aimarket.simulation.scenario.schema import Scenario
from aimarket.simulation.scenario.validation import one_line, scenario_from_dict

__all__ = ["DEFAULT_SCENARIO", "load_scenario"]

#: The scenario used when no path is given: the packaged ``default.toml`` (``scenarios/`` in the
#: repository, the package ``aimarket.scenarios`` once installed; see :mod:`aimarket.resources`).
DEFAULT_SCENARIO = scenario_file("default")


def load_scenario(
    path: str | Path | None = None,
    overrides: Mapping[str, Any] | Iterable[str | tuple[str, Any]] = (),
) -> Scenario:
    """Read the TOML scenario at ``path`` (default :data:`DEFAULT_SCENARIO`), apply ``overrides``
    and validate.

    ``overrides`` is a mapping ``{dotted_key: value}``, or an iterable of ``"dotted.key=value"``
    strings (as given to ``--set``) or ``(dotted_key, value)`` pairs. Raises :class:`ScenarioError`.
    """
    data = _read_with_base(DEFAULT_SCENARIO if path is None else Path(path))
    pairs = override_pairs(overrides)
    if not pairs:
        return scenario_from_dict(data)
    return apply_overrides(data, dict(pairs))


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(f"scenario file '{path}' does not exist")
    if not path.is_file():
        raise ScenarioError(f"scenario file '{path}' is not a file")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file '{path}' is not valid TOML: {one_line(str(exc))}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"scenario file '{path}' is not valid TOML: not UTF-8 text") from None
    except OSError as exc:
        reason = one_line(exc.strerror or str(exc))
        raise ScenarioError(f"scenario file '{path}' cannot be read: {reason}") from None


def _read_with_base(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file; a top-level ``extends = "other.toml"`` (relative to the file) names a
    base scenario whose values this file's tables update key by key (lists are replaced whole)."""
    data = _read_toml(path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ScenarioError(f"scenario field 'extends' in {path}: must be a file name (got {base!r})")
    base_path = (path.parent / base).resolve()
    if base_path in seen or base_path == path.resolve():
        raise ScenarioError(f"scenario field 'extends' in {path}: '{base}' extends itself in a cycle")
    return _deep_merge(_read_with_base(base_path, (*seen, path.resolve())), data)


def _deep_merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged
