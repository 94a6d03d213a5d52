"""Binding stores with I/O: SQL (SQLite, PostgreSQL), write-behind persistent, Redis.

The pure :class:`~voip_core.registrar.memory_store.MemoryBindingStore` and the
``BindingStore`` port live in :mod:`voip_core.registrar`.
"""

from voip_core.storage.models import RegistrationBinding, metadata
from voip_core.storage.persistent import PersistentBindingStore, flush_periodically
from voip_core.storage.redis_store import RedisBindingStore
from voip_core.storage.security_blocks import SecurityBlock, SqlBlockStore
from voip_core.storage.sql_store import SqlBindingStore

__all__ = [
    "PersistentBindingStore",
    "RedisBindingStore",
    "RegistrationBinding",
    "SecurityBlock",
    "SqlBindingStore",
    "SqlBlockStore",
    "flush_periodically",
    "metadata",
]
