"""Compiled, denormalised views of plan rows: what routing decisions carry.

The compiler resolves every id in the rows (unit, site, class of service, trunk) once,
so a decision never needs a second lookup and the SIP core never sees a row id.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialplan.engine.pattern import Pattern
from dialplan.model import DestinationKind

__all__ = [
    "DialRule",
    "EmergencyTarget",
    "ExactTarget",
    "ExtensionInfo",
    "ShortNumberInfo",
    "ShortNumberTarget",
    "TrunkInfo",
]


@dataclass(frozen=True, slots=True)
class TrunkInfo:
    """A carrier trunk that external, short-number and emergency calls leave by."""

    id: int
    name: str
    enabled: bool
    host: str
    port: int
    transport: str


@dataclass(frozen=True, slots=True)
class ExtensionInfo:
    """An extension with its unit, site and class of service resolved."""

    number: str
    display_name: str
    unit_name: str
    site_name: str | None
    """``None`` when the extension is not placed at a site."""
    priority_site: bool
    """Whether the extension's site is a priority site, which may make video calls."""
    enabled: bool
    ha1_md5: str
    """hex MD5(number:realm:password), RFC 7616 §3.4.2."""
    ha1_sha256: str
    """hex SHA-256(number:realm:password), RFC 7616 §3.4.2 / RFC 8760."""
    class_of_service: str
    """Name of the extension's class of service."""
    allowed_kinds: frozenset[DestinationKind]
    """Destination kinds the class of service allows this extension to call."""
    forward_unconditional: str | None = None
    forward_busy: str | None = None
    forward_no_answer: str | None = None
    no_answer_seconds: int = 20

    @property
    def label(self) -> str:
        """How explanations name the extension: ``extension 8001 (县委办公室 张三)``."""
        return f"extension {self.number} ({self.unit_name} {self.display_name})"


@dataclass(frozen=True, slots=True)
class ShortNumberInfo:
    """A staff mobile's carrier group short number."""

    short_code: str
    mobile_e164: str
    person_name: str
    unit_name: str
    desk_extension: str | None = None

    @property
    def label(self) -> str:
        """How explanations name it: ``short number 61001 (县公安局 李四)``."""
        return f"short number {self.short_code} ({self.unit_name} {self.person_name})"


@dataclass(frozen=True, slots=True)
class DialRule:
    """A validated dial rule with its pattern parsed and its trunk resolved."""

    id: int
    priority: int
    pattern: Pattern
    min_length: int
    max_length: int
    destination: DestinationKind
    trunk: TrunkInfo | None
    strip: int
    prepend: str
    description: str

    @property
    def label(self) -> str:
        """How explanations name the rule: ``rule #3 '0.' external_national``."""
        return f"rule #{self.id} '{self.pattern.text}' {self.destination.value}"

    def accepts_length(self, length: int) -> bool:
        """Whether a number of ``length`` characters is within the rule's bounds."""
        return self.min_length <= length <= self.max_length

    def transform(self, number: str) -> str:
        """Apply the rule's digit manipulation: drop ``strip`` leading characters, then
        put ``prepend`` in front."""
        return self.prepend + number[self.strip :]


@dataclass(frozen=True, slots=True)
class ShortNumberTarget:
    """What an exactly dialed short code leads to: the mobile, and the rule whose trunk
    carries the call (the first short-number rule matching the code, else the first
    short-number rule)."""

    info: ShortNumberInfo
    rule: DialRule


@dataclass(frozen=True, slots=True)
class EmergencyTarget:
    """An emergency number and the emergency rule that carries it, chosen at compile
    time: the first emergency rule by priority whose pattern matches the number and
    whose trunk is enabled, else the first emergency rule with an enabled trunk."""

    number: str
    rule: DialRule | None
    """``None`` when no emergency rule with an enabled trunk exists."""
    pattern_matched: bool
    """Whether ``rule``'s pattern matches ``number``; only then its digit manipulation
    applies."""


#: What an exact number in the prefix index leads to.
ExactTarget = ExtensionInfo | ShortNumberTarget | EmergencyTarget
