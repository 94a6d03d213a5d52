"""Copy an ORM object's columns into a frozen dataclass, field by field, by name.

The records of the services and the rows of the plan loader are frozen dataclasses
whose fields are named as the ORM attributes they come from; the dataclass decides
what is copied, so a column it does not declare (an HA1 value, a key hash) stays behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, TypeVar

from dialplan.model import DestinationKind

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["copy_fields", "destination_kinds"]

RecordT = TypeVar("RecordT", bound="DataclassInstance")


@cache
def _field_names(record_type: type[DataclassInstance]) -> frozenset[str]:
    return frozenset(field.name for field in fields(record_type))


def copy_fields(record_type: type[RecordT], source: object, **computed: object) -> RecordT:
    """Build ``record_type`` from the same-named attributes of ``source``; ``computed``
    gives the fields whose value is not the attribute as it is."""
    names = _field_names(record_type)
    unknown = computed.keys() - names
    if unknown:
        raise TypeError(f"{record_type.__name__} has no field {', '.join(sorted(unknown))}")
    return record_type(
        **{name: computed[name] if name in computed else getattr(source, name) for name in names}
    )


def destination_kinds(values: Iterable[str]) -> frozenset[DestinationKind]:
    """A class of service's stored ``allowed`` list as destination kinds."""
    return frozenset(DestinationKind(value) for value in values)
