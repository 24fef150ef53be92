"""Overrides of scenario values by dotted key: ``--set section.key=value`` options, keyword overrides
(``MarketModel(users__count=5000)``) and ``{dotted_key: value}`` dicts.

Dotted keys address items of the named lists by name: ``tasks.reasoning.alpha``,
``labs.roster.OpenAI.cash``, ``labs.roster.OpenAI.k.chat``. A lab name that itself contains dots or
spaces works too (``labs.roster.Google DeepMind.cash``). A bad key or value is a one-line
:class:`~aimarket.simulation.errors.ScenarioError` (:mod:`aimarket.simulation.scenario.validation`).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from aimarket.simulation.errors import ScenarioError
from aimarket.simulation.scenario.fields import NAMED_ITEM, is_dict, is_model, list_item_model, unwrap_optional
from aimarket.simulation.scenario.schema import Scenario, scenario_to_dict
from aimarket.simulation.scenario.validation import got, scenario_from_dict, unknown_field

__all__ = ["apply_overrides", "dotted_overrides", "override_pairs", "parse_set_option"]


def apply_overrides(scenario_or_dict: Scenario | Mapping[str, Any], overrides: Mapping[str, Any]) -> Scenario:
    """Return a new, validated scenario with ``overrides`` (``{dotted_key: value}``) applied.

    The base may be a :class:`Scenario` or a nested dict (for example a TOML file's contents, where
    sections and the default task list may be missing). Raises :class:`ScenarioError`.
    """
    if isinstance(scenario_or_dict, Scenario):
        data = scenario_to_dict(scenario_or_dict)
    elif isinstance(scenario_or_dict, Mapping):
        data = copy.deepcopy(dict(scenario_or_dict))
    else:
        raise ScenarioError(f"a scenario must be a table of sections (got {type(scenario_or_dict).__name__})")
    for key, value in overrides.items():
        _set_dotted(data, str(key), value)
    return scenario_from_dict(data)


def parse_set_option(option: str) -> tuple[str, Any]:
    """Split a ``--set`` option ``"section.key=value"`` into ``(dotted_key, value)``.

    The value is read as a TOML value (``1e25``, ``true``, ``[1, 10]``, ``"text"``,
    ``{chat = 1.0}``); anything that is not valid TOML is taken as a bare string.
    """
    if not isinstance(option, str) or "=" not in option:
        raise ScenarioError(f"invalid --set {option!r}: expected section.key=value (e.g. users.count=5000)")
    key, _, raw = option.partition("=")
    key, raw = key.strip(), raw.strip()
    if not key or any(not part.strip() for part in key.split(".")):
        raise ScenarioError(f"invalid --set {option!r}: expected section.key=value (e.g. users.count=5000)")
    if not raw:
        raise ScenarioError(f"invalid --set {option!r}: missing value after '='")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key, value


def override_pairs(overrides: Any) -> list[tuple[str, Any]]:
    """``(dotted_key, value)`` pairs of a mapping, of one ``--set`` string, or of an iterable of ``--set``
    strings and ``(dotted_key, value)`` pairs."""
    if isinstance(overrides, Mapping):
        return [(str(k), v) for k, v in overrides.items()]
    if isinstance(overrides, str):
        return [parse_set_option(overrides)]
    pairs = []
    for item in overrides:
        if isinstance(item, str):
            pairs.append(parse_set_option(item))
        else:
            key, value = item
            pairs.append((str(key), value))
    return pairs


def dotted_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword overrides as ``{dotted_key: value}``: ``users__count`` -> ``users.count``; a key named
    ``overrides`` holding a dict contributes its items as they are (dots and spaces allowed)."""
    pairs: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == "overrides":
            if not isinstance(value, Mapping):
                raise ScenarioError(f"MarketModel: overrides must be a dict of dotted scenario keys (got {value!r})")
            pairs.update({str(k): v for k, v in value.items()})
        else:
            pairs[str(key).replace("__", ".")] = value
    return pairs


# --------------------------------------------------------------------------------------------------
# setting one dotted key
# --------------------------------------------------------------------------------------------------


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``value`` at dotted ``key`` inside the nested scenario dict ``data`` (in place).

    Walks the key part by part along the schema: a section descends into its table, a named list into
    the item the next parts name, a table of numbers takes the last part as its key."""
    parts = key.split(".")
    if any(not p for p in parts):
        raise ScenarioError(f"invalid scenario field '{key}': empty name between dots")
    model: type[BaseModel] = Scenario
    container: dict[str, Any] = data
    prefix: tuple[str, ...] = ()
    i = 0
    while True:
        part = parts[i]
        fields = model.model_fields
        if part not in fields:
            raise unknown_field(prefix, part, fields)
        if i == len(parts) - 1:
            container[part] = value
            return
        field = fields[part]
        annotation = unwrap_optional(field.annotation)
        path = (*prefix, part)
        rest = parts[i + 1:]
        if is_model(annotation):
            model, container, prefix, i = annotation, _table(container, part, path), path, i + 1
            continue
        item_model = list_item_model(annotation)
        if item_model is not None:
            items = _item_list(container, part, field, path)
            item, name, consumed = _named_item(items, rest, path)
            item_path = (*path, name)
            if i + consumed == len(parts) - 1:
                _replace_item(items, item, item_path, value)
                return
            model, container, prefix, i = item_model, item, item_path, i + 1 + consumed
            continue
        if is_dict(annotation):
            _set_table_entry(container, part, path, rest, key, value)
            return
        raise ScenarioError(
            f"unknown scenario field '{key}' ('{'.'.join(path)}' has no sub-fields; set it whole, "
            f"e.g. {'.'.join(path)}=<value>)"
        )


def _table(container: dict[str, Any], part: str, path: tuple[str, ...]) -> dict[str, Any]:
    """The table ``container[part]`` (created empty when missing); an error when it is not a table."""
    sub = container.get(part)
    if sub is None:
        sub = container[part] = {}
    if not isinstance(sub, dict):
        raise ScenarioError(f"scenario field '{'.'.join(path)}': must be a table (got {got(sub)})")
    return sub


def _item_list(container: dict[str, Any], part: str, field: FieldInfo, path: tuple[str, ...]) -> list[Any]:
    """The list of tables ``container[part]``; when missing, the schema's default list (as dicts)."""
    items = container.get(part)
    if items is None:
        default = field.get_default(call_default_factory=True) or []
        items = container[part] = [x.model_dump(mode="json") if isinstance(x, BaseModel) else x for x in default]
    if not isinstance(items, list):
        raise ScenarioError(f"scenario field '{'.'.join(path)}': must be a list of tables (got {got(items)})")
    return items


def _named_item(items: list[Any], rest: list[str], path: tuple[str, ...]) -> tuple[dict[str, Any], str, int]:
    """The item named by the longest run of the parts ``rest`` (names may contain dots): (item, its name,
    parts consumed); an error naming the items when none matches."""
    for n in range(len(rest), 0, -1):
        candidate = ".".join(rest[:n])
        matches = [it for it in items if isinstance(it, dict) and it.get("name") == candidate]
        if matches:
            return matches[0], candidate, n
    names = [it.get("name") for it in items if isinstance(it, dict)]
    what = NAMED_ITEM.get(path, "item")
    raise unknown_field(path, rest[0], [str(x) for x in names if x is not None], what=what)


def _replace_item(items: list[Any], item: dict[str, Any], item_path: tuple[str, ...], value: Any) -> None:
    """A key that names a whole item replaces it with ``value``, which must be a table."""
    if not isinstance(value, dict):
        raise ScenarioError(f"scenario field '{'.'.join(item_path)}': must be a table (got {got(value)})")
    items[items.index(item)] = value


def _set_table_entry(container: dict[str, Any], part: str, path: tuple[str, ...], rest: list[str], key: str,
                     value: Any) -> None:
    """Set one entry of a table of numbers (``labs.roster.OpenAI.k.chat``): exactly one part after it."""
    if len(rest) != 1:
        raise ScenarioError(
            f"unknown scenario field '{key}' ('{'.'.join(path)}' is a table of numbers: "
            f"use {'.'.join(path)}.<name>=<value>)"
        )
    _table(container, part, path)[rest[0]] = value
