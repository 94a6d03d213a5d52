"""Bindings in Redis, shared by every node of a multi-node deployment.

Theory of operation
-------------------
Keys, under a configurable prefix ``P``:

* ``P aor:<aor>`` - a hash from Contact URI to ``<expires_at>|<binding as JSON>``
  (the expiry in front so that the purge script need not parse JSON);
* ``P expiry`` - a sorted set of AORs scored by their earliest ``expires_at``;
* ``P count`` - the number of stored bindings.

``replace`` and ``purge_expired`` are Lua scripts, so each runs atomically on the
server: two nodes refreshing the same AOR cannot interleave, and the count stays exact.
The purge script handles a bounded number of AORs per call (it reads each AOR's hash,
deletes the expired contacts, re-scores the AOR by its next expiry) and is repeated
until no due AOR is left. The scripts build hash keys from the prefix, so they assume
one Redis server or primary, not Redis Cluster.

Keys and values are sent as UTF-8 bytes with ``surrogateescape``, so header text that
was not valid UTF-8 on the wire survives a round trip. The connection id of a binding's
source is not stored (it names a socket of one node); the transport finds the flow by
address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final, cast

import redis

from voip_core.registrar.binding import Binding
from voip_core.sip.peer import Peer

__all__ = ["DEFAULT_PREFIX", "RedisBindingStore", "decode_binding", "encode_binding"]

#: Key prefix used when none is given.
DEFAULT_PREFIX: Final = "ronghe:registration:"
#: AORs purged per script call: bounds how long one call blocks the Redis server.
PURGE_BATCH: Final = 500

_REPLACE_SCRIPT: Final = """
local old = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1])
local n = (#ARGV - 2) / 2
if n > 0 then
  for i = 3, #ARGV, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if n ~= old then
  redis.call('INCRBY', KEYS[3], n - old)
end
return n - old
"""

_PURGE_SCRIPT: Final = """
local now = tonumber(ARGV[1])
local aors = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local removed = 0
for _, aor in ipairs(aors) do
  local key = ARGV[2] .. aor
  local entries = redis.call('HGETALL', key)
  local earliest = nil
  for i = 1, #entries, 2 do
    local expires_at = tonumber(string.match(entries[i + 1], '^([^|]+)|'))
    if expires_at <= now then
      redis.call('HDEL', key, entries[i])
      removed = removed + 1
    elseif earliest == nil or expires_at < earliest then
      earliest = expires_at
    end
  end
  if earliest == nil then
    redis.call('ZREM', KEYS[1], aor)
  else
    redis.call('ZADD', KEYS[1], string.format('%.17g', earliest), aor)
  end
end
if removed > 0 then
  redis.call('DECRBY', KEYS[2], removed)
end
return {removed, #aors}
"""

_GLOB_SPECIAL_RE: Final = re.compile(r"([*?\[\]\\])")


def encode_binding(binding: Binding) -> bytes:
    """The hash value a binding is stored as (``aor`` and ``contact`` are the keys)."""
    document: dict[str, Any] = {
        "expires_at": binding.expires_at,
        "call_id": binding.call_id,
        "cseq": binding.cseq,
        "transport": binding.source.transport,
        "host": binding.source.host,
        "port": binding.source.port,
        "registered_at": binding.registered_at,
    }
    optional = {
        "q": binding.q,
        "user_agent": binding.user_agent,
        "instance_id": binding.instance_id,
        "reg_id": binding.reg_id,
        "temp_gruu": binding.temp_gruu,
    }
    document.update({name: value for name, value in optional.items() if value is not None})
    if binding.path:
        document["path"] = list(binding.path)
    text = (
        f"{binding.expires_at!r}|{json.dumps(document, ensure_ascii=False, separators=(',', ':'))}"
    )
    return _bytes(text)


def decode_binding(aor: str, contact: str, value: bytes | str) -> Binding:
    """Inverse of :func:`encode_binding`."""
    document = json.loads(_text(value).partition("|")[2])
    return Binding(
        aor=aor,
        contact=contact,
        expires_at=float(document["expires_at"]),
        call_id=document["call_id"],
        cseq=document["cseq"],
        source=Peer(document["transport"], document["host"], document["port"]),
        registered_at=float(document["registered_at"]),
        q=document.get("q"),
        user_agent=document.get("user_agent"),
        instance_id=document.get("instance_id"),
        reg_id=document.get("reg_id"),
        path=tuple(document.get("path", ())),
        temp_gruu=document.get("temp_gruu"),
    )


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def _bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogateescape")


class RedisBindingStore:
    """Bindings in Redis (implements ``BindingStore``).

    ``client`` is a synchronous ``redis.Redis`` created without ``decode_responses``
    (with it, text that is not valid UTF-8 could not be read back).
    """

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        self._expiry_key = _bytes(f"{prefix}expiry")
        self._count_key = _bytes(f"{prefix}count")
        self._aor_prefix = f"{prefix}aor:"
        self._replace = client.register_script(_REPLACE_SCRIPT)
        self._purge = client.register_script(_PURGE_SCRIPT)

    def _key(self, aor: str) -> bytes:
        return _bytes(self._aor_prefix + aor)

    def _decode_hash(self, aor: str, raw: Any) -> tuple[Binding, ...]:
        entries = cast("dict[bytes, bytes]", raw)
        bindings = [
            decode_binding(aor, _text(contact), value) for contact, value in entries.items()
        ]
        bindings.sort(key=lambda binding: (binding.registered_at, binding.contact))
        return tuple(bindings)

    def get(self, aor: str) -> tuple[Binding, ...]:
        """The AOR's bindings (ordered by registration time), empty when it has none."""
        return self._decode_hash(aor, self._client.hgetall(self._key(aor)))

    def replace(self, aor: str, bindings: Sequence[Binding]) -> None:
        """Make ``bindings`` the AOR's complete set (empty removes the AOR), atomically."""
        fields: dict[bytes, bytes] = {}
        for binding in bindings:
            if binding.aor != aor:
                raise ValueError(f"binding of {binding.aor!r} given for {aor!r}")
            fields[_bytes(binding.contact)] = encode_binding(binding)
        earliest = min((binding.expires_at for binding in bindings), default=0.0)
        arguments: list[bytes] = [_bytes(aor), _bytes(repr(earliest))]
        for contact, value in fields.items():
            arguments.extend((contact, value))
        self._replace(keys=[self._key(aor), self._expiry_key, self._count_key], args=arguments)

    def by_gruu(self, aor: str, instance_id: str) -> tuple[Binding, ...]:
        """The AOR's bindings with ``+sip.instance`` ``instance_id``."""
        return tuple(binding for binding in self.get(aor) if binding.instance_id == instance_id)

    def purge_expired(self, now: float) -> int:
        """Remove bindings with ``expires_at <= now``; return how many were removed."""
        total = 0
        while True:
            result = cast(
                "list[int]",
                self._purge(
                    keys=[self._expiry_key, self._count_key],
                    args=[repr(now), _bytes(self._aor_prefix), PURGE_BATCH],
                ),
            )
            removed, handled = int(result[0]), int(result[1])
            total += removed
            # Stop when no AOR was due, or a batch removed nothing (everything due was
            # merely rescheduled), so a rounding corner cannot loop forever.
            if handled < PURGE_BATCH or removed == 0:
                return total

    def all_bindings(self) -> Iterator[Binding]:
        """Every stored binding, AOR by AOR (SCAN, so no long server-side block)."""
        pattern = _bytes(_GLOB_SPECIAL_RE.sub(r"\\\1", self._aor_prefix) + "*")
        for key in self._client.scan_iter(match=pattern, count=500):
            aor = _text(cast("bytes", key))[len(self._aor_prefix) :]
            yield from self.get(aor)

    def count(self) -> int:
        """Number of stored bindings."""
        value = self._client.get(self._count_key)
        return 0 if value is None else int(value)

    def clear(self) -> None:
        """Delete every key under this store's prefix."""
        pattern = _bytes(_GLOB_SPECIAL_RE.sub(r"\\\1", self._prefix) + "*")
        keys = list(self._client.scan_iter(match=pattern, count=500))
        if keys:
            self._client.delete(*keys)
