"""The registrar (RFC 3261 §10): REGISTER processing, GRUUs and the binding store port.

Pure: no I/O, no clock; every function takes ``now``.
"""

from voip_core.registrar.binding import Binding, aor_uri, canonical_aor
from voip_core.registrar.exceptions import RegistrationRejected
from voip_core.registrar.gruu import (
    GruuLookup,
    is_gruu,
    normalize_instance_id,
    public_gruu,
    resolve_gruu,
    temporary_gruu,
)
from voip_core.registrar.memory_store import MemoryBindingStore
from voip_core.registrar.register import RegisterOutcome, RegistrarPolicy, process_register
from voip_core.registrar.store import BindingStore

__all__ = [
    "Binding",
    "BindingStore",
    "GruuLookup",
    "MemoryBindingStore",
    "RegisterOutcome",
    "RegistrarPolicy",
    "RegistrationRejected",
    "aor_uri",
    "canonical_aor",
    "is_gruu",
    "normalize_instance_id",
    "process_register",
    "public_gruu",
    "resolve_gruu",
    "temporary_gruu",
]
