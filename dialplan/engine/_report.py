"""Collecting plan problems, and the labels that name rows in their messages."""

from __future__ import annotations

from dialplan.engine._alphabet import has_control_character, quote
from dialplan.engine.exceptions import PlanProblem
from dialplan.model import NumberBlockRow, SiteRow, UnitRow

__all__ = ["Report", "block_label", "site_label", "unit_label"]


class Report:
    """Problems found so far, in the order found."""

    def __init__(self) -> None:
        self.problems: list[PlanProblem] = []

    def add(self, kind: str, object_kind: str, object_id: int | None, message: str) -> None:
        """Record one problem."""
        self.problems.append(PlanProblem(kind, object_kind, object_id, message))

    def unknown(
        self, object_kind: str, object_id: int, this: str, noun: str, reference: int
    ) -> None:
        """Record that the row ``this`` refers to a missing ``noun`` with id ``reference``."""
        self.add(
            "unknown_reference",
            object_kind,
            object_id,
            f"{this}: {noun} #{reference} does not exist",
        )

    def check_text(self, text: str, what: str, object_kind: str, object_id: int, this: str) -> None:
        """Refuse control characters in ``text``, the ``what`` of the row ``this``."""
        if has_control_character(text):
            self.add(
                "control_character",
                object_kind,
                object_id,
                f"{this}: {what} contains a control character",
            )


def unit_label(unit: UnitRow) -> str:
    """``unit #3 '城关镇'``."""
    return f"unit #{unit.id} {quote(unit.name)}"


def site_label(site: SiteRow) -> str:
    """``site #2 '应急指挥中心'``."""
    return f"site #{site.id} {quote(site.name)}"


def block_label(block: NumberBlockRow) -> str:
    """``number block #2 (8200-8239)``; only for blocks already known well-formed."""
    return f"number block #{block.id} ({block.first}-{block.last})"
