"""Validate a nested dict into a :class:`~aimarket.simulation.scenario.schema.Scenario`, turning every
failure into one line.

Every way the rest of the project builds a scenario from user input (a TOML file, a dict, ``--set``
options; :mod:`aimarket.simulation.scenario.loading`, :mod:`aimarket.simulation.scenario.overrides`)
ends here, so every failure surfaces as a :class:`~aimarket.simulation.errors.ScenarioError` whose
message is a single line naming the dotted field and what is allowed, e.g.::

    scenario field 'users.value_sigma': must be >= 0 (got -1.0)
    unknown scenario field 'users.value_sigm' (did you mean 'users.value_sigma'?)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from aimarket.simulation.errors import ScenarioError
from aimarket.simulation.scenario.fields import (
    NAMED_ITEM,
    field_info_at,
    is_model,
    item_label,
    list_item_model,
    unwrap_optional,
)
from aimarket.simulation.scenario.schema import Scenario

__all__ = ["got", "one_line", "scenario_from_dict", "unknown_field"]

_MAX_GOT = 60


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



# --------------------------------------------------------------------------------------------------
# checks before pydantic: unknown keys, non-finite numbers
# --------------------------------------------------------------------------------------------------


def _fmt_key(prefix: tuple[str, ...], key: str) -> str:
    return ".".join((*prefix, key))


def unknown_field(prefix: tuple[str, ...], key: str, valid: Iterable[str], what: str = "field") -> ScenarioError:
    """The error for a key (or a named item, ``what``) not in ``valid``, suggesting the closest valid name."""
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
            raise unknown_field(prefix, str(key), fields)
        annotation = unwrap_optional(fields[key].annotation)
        path = (*prefix, key)
        if is_model(annotation) and isinstance(value, Mapping):
            _check_unknown_keys(value, annotation, path)
            continue
        item_model = list_item_model(annotation)
        if item_model is not None and isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    _check_unknown_keys(item, item_model, (*path, item_label(item, index)))


def _check_finite(node: Any, path: tuple[str, ...]) -> None:
    """Reject inf and nan anywhere (TOML allows them; no parameter of the model does)."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ScenarioError(f"scenario field '{'.'.join(path)}': must be a finite number (got {got(node)})")
    if isinstance(node, Mapping):
        for key, value in node.items():
            _check_finite(value, (*path, str(key)))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            if isinstance(item, Mapping) and path in NAMED_ITEM:
                _check_finite(item, (*path, item_label(item, index)))
            elif path:
                _check_finite(item, (*path[:-1], f"{path[-1]}[{index}]"))



# --------------------------------------------------------------------------------------------------
# error translation
# --------------------------------------------------------------------------------------------------


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(str(text).split())


def got(value: Any) -> str:
    """The offending value as it appears in a message: its repr on one line, cut to 60 characters."""
    text = one_line(repr(value))
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
            named = tuple(names) in NAMED_ITEM or isinstance(item, Mapping)
            label = item_label(item, part) if named else None
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
    msg = one_line(error.get("msg", "invalid value"))

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
        parent = field_info_at(loc[:-1])
        annotation = unwrap_optional(parent.annotation) if parent is not None else Scenario
        model = annotation if is_model(annotation) else list_item_model(annotation) or Scenario
        prefix = tuple(field.split(".")[:-1])
        return str(unknown_field(prefix, str(loc[-1]), model.model_fields))
    if kind in _TYPE_MESSAGES:
        return f"scenario field '{field}': {_TYPE_MESSAGES[kind]}{_type_hint(kind, value)} (got {got(value)})"
    bound_words = {
        "greater_than_equal": (">=", "ge"),
        "greater_than": (">", "gt"),
        "less_than_equal": ("<=", "le"),
        "less_than": ("<", "lt"),
    }
    if kind in bound_words:
        symbol, name = bound_words[kind]
        fallback = f"must be {symbol} {_num(ctx.get(name))}"
        return f"scenario field '{field}': {_range_text(field_info_at(loc), fallback)} (got {got(value)})"
    if kind == "literal_error":
        return f"scenario field '{field}': must be one of {ctx.get('expected', '?')} (got {got(value)})"
    if kind == "string_too_short":
        return f"scenario field '{field}': must not be empty"
    if kind == "too_short":
        return f"scenario field '{field}': must have at least {ctx.get('min_length', 1)} item(s)"
    return f"scenario field '{field}': {msg[:1].lower() + msg[1:]} (got {got(value)})"


def _translate(exc: ValidationError, data: Any) -> str:
    errors = exc.errors(include_url=False)
    if not errors:
        return "invalid scenario"
    return one_line(_message(errors[0], data))
