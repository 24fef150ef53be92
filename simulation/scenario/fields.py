"""Navigation of the scenario schema: which fields are sections, named lists of tables or tables of
numbers, and which field a dotted key or a validation-error location addresses.

Used by :mod:`aimarket.simulation.scenario.validation` (unknown keys, error messages) and
:mod:`aimarket.simulation.scenario.overrides` (dotted keys).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from aimarket.simulation.scenario.schema import Scenario

#: Lists of tables whose items are addressed by their ``name`` in dotted keys.
NAMED_ITEM = {("tasks",): "task type", ("labs", "roster"): "lab"}


def unwrap_optional(annotation: Any) -> Any:
    """``X`` for an annotation ``X | None``; any other annotation as it is."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def is_model(annotation: Any) -> bool:
    """Whether the annotation is a section (a pydantic model)."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def list_item_model(annotation: Any) -> type[BaseModel] | None:
    """The model of the items of a list of tables (``list[TaskType]``), or None."""
    annotation = unwrap_optional(annotation)
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation) or (None,)
        if is_model(item):
            return item
    return None


def is_dict(annotation: Any) -> bool:
    """Whether the annotation is a table of values keyed by name (``dict[str, float]``)."""
    return typing.get_origin(unwrap_optional(annotation)) is dict


def item_label(item: Any, index: int) -> str:
    """The name of an item of a list of tables, or ``[index]`` when it has none."""
    name = item.get("name") if isinstance(item, Mapping) else None
    return name if isinstance(name, str) and name else f"[{index}]"


def field_info_at(loc: tuple[Any, ...]):
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
        annotation = unwrap_optional(info.annotation)
        pending_item = list_item_model(annotation)
        model = annotation if is_model(annotation) else None
    return info
