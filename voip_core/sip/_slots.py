"""Fast construction of frozen, slotted dataclasses on the parser's hot path.

A frozen dataclass's generated ``__init__`` sets every field through
``object.__setattr__``, a slow path taken for every field; the parser builds a dozen
such values per message. Writing the slots through their member descriptors is about
twice as fast. :func:`slot_setters` returns those descriptors' setters after checking, at import
time, that the names given are exactly the class's fields in order, so a field added
later fails loudly instead of being left unset. The values built this way are ordinary
instances: equal to, and hashed like, the ones ``__init__`` builds (tests check it).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable

Setter = Callable[[object, object], None]


def slot_setters(cls: type, names: tuple[str, ...]) -> tuple[Setter, ...]:
    """Setters of the slots ``names`` of dataclass ``cls``, in field order."""
    fields = tuple(field.name for field in dataclasses.fields(cls))
    if fields != names:
        raise TypeError(f"{cls.__name__} fields are {fields}, not {names}")
    return tuple(member_setter(cls, name) for name in names)


def member_setter(cls: type, name: str) -> Setter:
    """Setter of the slot ``name`` that ``cls`` itself defines."""
    descriptor = cls.__dict__[name]
    if not isinstance(descriptor, types.MemberDescriptorType):
        raise TypeError(f"{cls.__name__}.{name} is not a slot")
    return descriptor.__set__
