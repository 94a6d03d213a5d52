"""The compiled numbering plan: an immutable value the SIP core routes with.

A plan is built only by :func:`dialplan.engine.compile_plan`. Its mappings are
read-only views and its index is a tuple-based automaton, so one plan can be shared by
every request being routed while a reload builds the next one beside it; swapping the
reference is the only mutation (STYLE.md §3, like Kamailio ``dialplan/dp_db.c``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dialplan.engine.index import PrefixIndex
from dialplan.engine.info import (
    DialRule,
    EmergencyTarget,
    ExtensionInfo,
    ShortNumberInfo,
    ShortNumberTarget,
    TrunkInfo,
)

__all__ = ["NumberingPlan", "PlanStats"]


@dataclass(frozen=True, slots=True)
class PlanStats:
    """Counts for dashboards and reload logs."""

    units: int
    sites: int
    blocks: int
    extensions: int
    enabled_extensions: int
    short_numbers: int
    trunks: int
    rules: int
    index_states: int
    """Size of the prefix index, a measure of lookup-table memory."""


@dataclass(frozen=True, slots=True, eq=False)
class NumberingPlan:
    """A validated numbering plan with its prefix index.

    Compare plans by ``version``, not by value: equality is identity, because two
    compilations of the same rows are interchangeable but comparing their tables
    field by field would cost more than the comparison could ever save.
    """

    realm: str
    """SIP digest realm the HA1 values were derived with."""
    version: int
    """Version of the stored plan the rows were read from."""
    rules: tuple[DialRule, ...]
    """Dial rules, lowest priority value (tried first) first."""
    stats: PlanStats
    index: PrefixIndex = field(repr=False)
    extensions: Mapping[str, ExtensionInfo] = field(repr=False)
    short_numbers: Mapping[str, ShortNumberTarget] = field(repr=False)
    emergency: Mapping[str, EmergencyTarget] = field(repr=False)
    mobiles: Mapping[str, ShortNumberInfo] = field(repr=False)
    """Short numbers by E.164 mobile number."""
    trunks_by_name: Mapping[str, TrunkInfo] = field(repr=False)
    trunks_by_id: Mapping[int, TrunkInfo] = field(repr=False)

    def extension(self, number: str) -> ExtensionInfo | None:
        """The extension with ``number``, e.g. for the registrar's digest check."""
        return self.extensions.get(number)

    def short_number(self, code: str) -> ShortNumberInfo | None:
        """The short number with ``code``."""
        target = self.short_numbers.get(code)
        return None if target is None else target.info

    def short_number_for_mobile(self, e164: str) -> ShortNumberInfo | None:
        """The short number of the staff mobile ``e164``, so that calls arriving from it
        over a trunk can show the short number and the person's name."""
        return self.mobiles.get(e164)

    def trunk(self, name_or_id: str | int) -> TrunkInfo | None:
        """The trunk named ``name_or_id`` (a ``str``) or with that id (an ``int``)."""
        if isinstance(name_or_id, str):
            return self.trunks_by_name.get(name_or_id)
        return self.trunks_by_id.get(name_or_id)

    def is_emergency(self, number: str) -> bool:
        """Whether ``number`` is one of the plan's emergency numbers."""
        return number in self.emergency
