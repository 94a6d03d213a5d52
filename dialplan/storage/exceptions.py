"""Domain errors raised by the numbering-plan services.

The API maps each to one HTTP status in ``api/errors.py``; the command line prints
the message. Messages name the offending object and value::

    PlanStorageError
    ├── NotFound             the object does not exist                     (404)
    ├── Conflict             clashes with another object, named            (409)
    ├── PreconditionFailed   the caller's version is stale                 (412)
    ├── ValidationFailed     a field value is invalid, field named         (422)
    ├── PlanRejected         the plan compiler refused the would-be plan   (422)
    └── ImportRejected       CSV rows are bad, each with its line number   (422)
"""

from __future__ import annotations

from dataclasses import dataclass

from dialplan.engine import PlanProblem

__all__ = [
    "Conflict",
    "ImportRejected",
    "NotFound",
    "PlanRejected",
    "PlanStorageError",
    "PreconditionFailed",
    "RowError",
    "ValidationFailed",
]


class PlanStorageError(Exception):
    """Root of the numbering-plan storage errors."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(PlanStorageError):
    """The requested object does not exist, e.g. ``extension 8001 not found``."""


class Conflict(PlanStorageError):
    """The write clashes with an existing object, which the message names."""


class PreconditionFailed(PlanStorageError):
    """The caller's expected version is not the stored one."""

    def __init__(self, message: str, *, current_version: int) -> None:
        super().__init__(message)
        self.current_version = current_version


class ValidationFailed(PlanStorageError):
    """A field value breaks a rule; ``field`` names it as the client spelled it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class PlanRejected(PlanStorageError):
    """The plan compiler rejected the plan the write would produce."""

    def __init__(self, problems: tuple[PlanProblem, ...]) -> None:
        reasons = "; ".join(problem.message for problem in problems)
        super().__init__(f"the numbering plan would be invalid: {reasons}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad CSV row: its 1-based line number (the header is line 1) and why."""

    line: int | None
    """``None`` when the compiler's complaint cannot be traced to a single row."""
    message: str


class ImportRejected(PlanStorageError):
    """A CSV import was refused; nothing was written."""

    def __init__(self, errors: tuple[RowError, ...]) -> None:
        super().__init__(f"import rejected: {len(errors)} bad row(s)")
        self.errors = errors
