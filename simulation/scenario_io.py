"""Read, override, serialise and hash scenarios; turn every validation failure into one line.

The schema lives in :mod:`aimarket.simulation.scenario`. This module is the only way the rest of the project
builds a :class:`~aimarket.simulation.scenario.Scenario` from user input (a TOML file, a dict, ``--set``
options), so every failure surfaces as a :class:`~aimarket.simulation.errors.ScenarioError` whose message is a
single line naming the dotted field and what is allowed, e.g.::

    scenario field 'users.value_sigma': must be >= 0 (got -1.0)
    unknown scenario field 'users.value_sigm' (did you mean 'users.value_sigma'?)

Dotted keys address items of the named lists by name: ``tasks.reasoning.alpha``,
``labs.roster.OpenAI.cash``, ``labs.roster.OpenAI.k.chat``. A lab name that itself contains dots or
spaces works too (``labs.roster.Google DeepMind.cash``).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from aimarket.resources import scenario_file
from aimarket.simulation.errors import ScenarioError
from aimarket.simulation.scenario import Scenario

__all__ = [
    "DEFAULT_SCENARIO",
    "apply_overrides",
    "load_scenario",
    "parse_set_option",
    "scenario_from_dict",
    "scenario_hash",
    "scenario_to_dict",
]

#: The scenario used when no path is given: the packaged ``default.toml`` (``scenarios/`` in the
#: repository, the package ``aimarket.scenarios`` once installed; see :mod:`aimarket.resources`).
DEFAULT_SCENARIO = scenario_file("default")

#: Lists of tables whose items are addressed by their ``name`` in dotted keys.
_NAMED_ITEM = {("tasks",): "task type", ("labs", "roster"): "lab"}

_MAX_GOT = 60


# --------------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------------


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
    pairs = _override_pairs(overrides)
    if not pairs:
        return scenario_from_dict(data)
    return apply_overrides(data, dict(pairs))


def scenario_from_dict(data: Mapping[str, Any]) -> Scenario:
    """Validate a (possibly partial) nested dict into a :class:`Scenario`. Raises :class:`ScenarioError`."""
    if isinstance(data, Scenario):
        return data
    if not isinstance(data, Mapping):
        raise ScenarioError(f"a scenario must be a table of sections (got {type(data).__name__})")
    _check_unknown_keys(data, Scenario, ())
    _check_finite(data, ())
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise ScenarioError(_translate(exc, data)) from None


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


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """The fully resolved scenario (defaults included) as a JSON-safe nested dict."""
    return scenario.model_dump(mode="json")


def scenario_hash(scenario: Scenario) -> str:
    """SHA-256 (hex) of the scenario's canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(scenario_to_dict(scenario), sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------------------------------


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ScenarioError(f"scenario file '{path}' does not exist")
    if not path.is_file():
        raise ScenarioError(f"scenario file '{path}' is not a file")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file '{path}' is not valid TOML: {_one_line(str(exc))}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"scenario file '{path}' is not valid TOML: not UTF-8 text") from None
    except OSError as exc:
        reason = _one_line(exc.strerror or str(exc))
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


def _override_pairs(overrides: Any) -> list[tuple[str, Any]]:
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


# --------------------------------------------------------------------------------------------------
# schema navigation
# --------------------------------------------------------------------------------------------------


def _unwrap_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _list_item_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap_optional(annotation)
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation) or (None,)
        if _is_model(item):
            return item
    return None


def _is_dict(annotation: Any) -> bool:
    return typing.get_origin(_unwrap_optional(annotation)) is dict


def _fmt_key(prefix: tuple[str, ...], key: str) -> str:
    return ".".join((*prefix, key))


def _unknown(prefix: tuple[str, ...], key: str, valid: Iterable[str], what: str = "field") -> ScenarioError:
    valid = sorted(valid)
    name = _fmt_key(prefix, key)
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean '{_fmt_key(prefix, close[0])}'?"
    elif valid:
        hint = f"allowed: {', '.join(valid)}"
    else:
        hint = "nothing is allowed here"
    if what == "field":
        return ScenarioError(f"unknown scenario field '{name}' ({hint})")
    return ScenarioError(f"unknown {what} '{key}' in scenario field '{'.'.join(prefix)}' ({hint})")


def _check_unknown_keys(data: Mapping[str, Any], model: type[BaseModel], prefix: tuple[str, ...]) -> None:
    """Reject keys the schema does not know, suggesting the closest valid name at that level."""
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            raise _unknown(prefix, str(key), fields)
        annotation = _unwrap_optional(fields[key].annotation)
        path = (*prefix, key)
        if _is_model(annotation) and isinstance(value, Mapping):
            _check_unknown_keys(value, annotation, path)
            continue
        item_model = _list_item_model(annotation)
        if item_model is not None and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    _check_unknown_keys(item, item_model, (*path, _item_label(item, index)))


def _check_finite(node: Any, path: tuple[str, ...]) -> None:
    """Reject inf and nan anywhere (TOML allows them; no parameter of the model does)."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ScenarioError(f"scenario field '{'.'.join(path)}': must be a finite number (got {_got(node)})")
    if isinstance(node, Mapping):
        for key, value in node.items():
            _check_finite(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, Mapping) and path in _NAMED_ITEM:
                _check_finite(item, (*path, _item_label(item, index)))
            elif path:
                _check_finite(item, (*path[:-1], f"{path[-1]}[{index}]"))


def _item_label(item: Any, index: int) -> str:
    name = item.get("name") if isinstance(item, Mapping) else None
    return name if isinstance(name, str) and name else f"[{index}]"


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``value`` at dotted ``key`` inside the nested scenario dict ``data`` (in place)."""
    parts = key.split(".")
    if any(not p for p in parts):
        raise ScenarioError(f"invalid scenario field '{key}': empty name between dots")
    model: type[BaseModel] = Scenario
    container: dict[str, Any] = data
    prefix: tuple[str, ...] = ()
    i = 0
    while i < len(parts):
        part = parts[i]
        fields = model.model_fields
        if part not in fields:
            raise _unknown(prefix, part, fields)
        field = fields[part]
        annotation = _unwrap_optional(field.annotation)
        path = (*prefix, part)
        last = i == len(parts) - 1
        if last:
            container[part] = value
            return
        rest = parts[i + 1:]
        if _is_model(annotation):
            sub = container.get(part)
            if sub is None:
                sub = container[part] = {}
            if not isinstance(sub, dict):
                raise ScenarioError(f"scenario field '{'.'.join(path)}': must be a table (got {_got(sub)})")
            model, container, prefix, i = annotation, sub, path, i + 1
            continue
        item_model = _list_item_model(annotation)
        if item_model is not None:
            items = container.get(part)
            if items is None:
                default = field.get_default(call_default_factory=True) or []
                items = container[part] = [
                    x.model_dump(mode="json") if isinstance(x, BaseModel) else x for x in default
                ]
            if not isinstance(items, list):
                raise ScenarioError(
                    f"scenario field '{'.'.join(path)}': must be a list of tables (got {_got(items)})"
                )
            names = [it.get("name") for it in items if isinstance(it, dict)]
            # longest run of parts that names an item (names may contain dots)
            for n in range(len(rest), 0, -1):
                candidate = ".".join(rest[:n])
                matches = [it for it in items if isinstance(it, dict) and it.get("name") == candidate]
                if matches:
                    break
            else:
                what = _NAMED_ITEM.get(path, "item")
                raise _unknown(path, rest[0], [str(x) for x in names if x is not None], what=what)
            item, consumed = matches[0], n
            item_path = (*path, candidate)
            if i + consumed == len(parts) - 1:
                # the key names a whole item: replace it
                if not isinstance(value, dict):
                    raise ScenarioError(
                        f"scenario field '{'.'.join(item_path)}': must be a table (got {_got(value)})"
                    )
                items[items.index(item)] = value
                return
            model, container, prefix, i = item_model, item, item_path, i + 1 + consumed
            continue
        if _is_dict(annotation):
            if len(rest) != 1:
                raise ScenarioError(
                    f"unknown scenario field '{key}' ('{'.'.join(path)}' is a table of numbers: "
                    f"use {'.'.join(path)}.<name>=<value>)"
                )
            sub = container.get(part)
            if sub is None:
                sub = container[part] = {}
            if not isinstance(sub, dict):
                raise ScenarioError(f"scenario field '{'.'.join(path)}': must be a table (got {_got(sub)})")
            sub[rest[0]] = value
            return
        raise ScenarioError(
            f"unknown scenario field '{key}' ('{'.'.join(path)}' has no sub-fields; set it whole, "
            f"e.g. {'.'.join(path)}=<value>)"
        )


def _field_info_at(loc: tuple[Any, ...]):
    """The pydantic FieldInfo addressed by a validation-error location, or None."""
    model: type[BaseModel] | None = Scenario
    info = None
    pending_item: type[BaseModel] | None = None
    for part in loc:
        if isinstance(part, int):
            if pending_item is None:
                return info
            model, pending_item = pending_item, None
            continue
        if model is None or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        annotation = _unwrap_optional(info.annotation)
        pending_item = _list_item_model(annotation)
        model = annotation if _is_model(annotation) else None
    return info


# --------------------------------------------------------------------------------------------------
# error translation
# --------------------------------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _got(value: Any) -> str:
    text = _one_line(repr(value))
    return text if len(text) <= _MAX_GOT else text[: _MAX_GOT - 3] + "..."


def _num(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return f"{value:g}"
    return str(value)


def _dotted(loc: tuple[Any, ...], data: Any) -> str:
    """Dotted field name for a pydantic location, naming task types and labs instead of indices."""
    names: list[str] = []
    node = data
    for part in loc:
        if isinstance(part, int):
            item = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
            named = tuple(names) in _NAMED_ITEM or isinstance(item, Mapping)
            label = _item_label(item, part) if named else None
            if label is None or label.startswith("["):
                if names:
                    names[-1] = f"{names[-1]}[{part}]"
                else:
                    names.append(f"[{part}]")
            else:
                names.append(label)
            node = item
        else:
            names.append(str(part))
            node = node.get(part) if isinstance(node, Mapping) else None
    return ".".join(names)


def _bounds(info) -> tuple[Any, Any, Any, Any]:
    ge = gt = le = lt = None
    for meta in getattr(info, "metadata", ()) or ():
        ge = getattr(meta, "ge", ge)
        gt = getattr(meta, "gt", gt)
        le = getattr(meta, "le", le)
        lt = getattr(meta, "lt", lt)
    return ge, gt, le, lt


def _range_text(info, fallback: str) -> str:
    ge, gt, le, lt = _bounds(info)
    low = ("[", ge) if ge is not None else ("(", gt) if gt is not None else None
    high = (le, "]") if le is not None else (lt, ")") if lt is not None else None
    if low and high:
        return f"must be in {low[0]}{_num(low[1])}, {_num(high[0])}{high[1]}"
    return fallback


_TYPE_MESSAGES = {
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
}


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _type_hint(kind: str, value: Any) -> str:
    """Why a value of the wrong type is refused (types are strict: nothing is converted)."""
    if kind in ("int_type", "float_type") and isinstance(value, str) and _looks_numeric(value):
        return ", not a string (write the number without quotes)"
    if kind in ("int_type", "float_type") and isinstance(value, bool):
        return ", not true or false"
    if kind == "int_type" and isinstance(value, float):
        return ", not a float (write it without a decimal point or exponent)"
    return ""


def _message(error: dict[str, Any], data: Any) -> str:
    loc = tuple(error.get("loc", ()))
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    value = error.get("input")
    msg = _one_line(error.get("msg", "invalid value"))

    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        if not loc and ": " in text:  # model-level cross-check: "dotted.field: what is allowed"
            field, _, rest = text.partition(": ")
            return f"scenario field '{field}': {rest}"
        return f"scenario field '{_dotted(loc, data)}': {text}" if loc else f"invalid scenario: {text}"

    field = _dotted(loc, data) if loc else "<scenario>"
    if kind == "missing":
        return f"scenario field '{field}': is required"
    if kind == "extra_forbidden":
        parent = _field_info_at(loc[:-1])
        annotation = _unwrap_optional(parent.annotation) if parent is not None else Scenario
        model = annotation if _is_model(annotation) else _list_item_model(annotation) or Scenario
        prefix = tuple(field.split(".")[:-1])
        return str(_unknown(prefix, str(loc[-1]), model.model_fields))
    if kind in _TYPE_MESSAGES:
        return f"scenario field '{field}': {_TYPE_MESSAGES[kind]}{_type_hint(kind, value)} (got {_got(value)})"
    bound_words = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bound_words:
        symbol, name = bound_words[kind]
        fallback = f"must be {symbol} {_num(ctx.get(name))}"
        return f"scenario field '{field}': {_range_text(_field_info_at(loc), fallback)} (got {_got(value)})"
    if kind == "literal_error":
        return f"scenario field '{field}': must be one of {ctx.get('expected', '?')} (got {_got(value)})"
    if kind == "string_too_short":
        return f"scenario field '{field}': must not be empty"
    if kind == "too_short":
        return f"scenario field '{field}': must have at least {ctx.get('min_length', 1)} item(s)"
    return f"scenario field '{field}': {msg[:1].lower() + msg[1:]} (got {_got(value)})"


def _translate(exc: ValidationError, data: Any) -> str:
    errors = exc.errors(include_url=False)
    if not errors:
        return "invalid scenario"
    return _one_line(_message(errors[0], data))
