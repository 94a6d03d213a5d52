"""Settings of ``ronghe serve``: environment (``RONGHE_*``) first, command line on top.

Validated on load; a deployment outside development must set a real secret, since the
secret signs digest nonces and flow tokens and must be shared by every node.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from voip_core.transport.manager import DEFAULT_UDP_RECEIVE_BUFFER

__all__ = ["ServeSettings", "load_secret"]

_PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "ronghe"})


class ServeSettings(BaseSettings):
    """Everything ``ronghe serve`` needs; see ``ronghe serve --help``."""

    model_config = SettingsConfigDict(env_prefix="RONGHE_", frozen=True)

    environment: Literal["development", "production"] = "development"
    sip_host: str = "0.0.0.0"
    sip_port: int = Field(5060, ge=1, le=65535)
    advertise: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    database_url: str = "sqlite:///ronghe.db"
    redis_url: str | None = None
    domain: str = "ronghe.local"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    trace_sip: bool = False
    t1: float = Field(0.5, gt=0)
    t2: float = Field(4.0, gt=0)
    t4: float = Field(5.0, gt=0)
    timer_c: float = Field(181.0, gt=0)
    #: Challenge order. RFC 8760 §2.4 would put SHA-256 first, but clients in the field
    #: (SIPp 3.6, libre-based phones) answer only the first challenge and fail on SHA-256.
    digest_algorithms: tuple[Literal["MD5", "SHA-256"], ...] = ("MD5", "SHA-256")
    tcp_idle_timeout: float = Field(600.0, gt=0)
    trusted_networks: tuple[str, ...] = ()
    demo: bool = True
    secret: str | None = None
    secret_file: Path = Path("ronghe.secret")
    min_expires: int = Field(60, ge=1)
    max_expires: int = Field(3600, ge=1)
    max_transactions: int = Field(200_000, ge=100)
    workers: int = Field(1, ge=1, le=64)
    overload_queue_kib: int = Field(768, ge=16)
    udp_receive_buffer_kib: int = Field(DEFAULT_UDP_RECEIVE_BUFFER // 1024, ge=64)
    overload_lag: float = Field(0.2, gt=0)
    nonce_lifetime: float = Field(300.0, gt=0)

    @field_validator("trusted_networks")
    @classmethod
    def _networks_parse(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as error:
                raise ValueError(f"trusted network {network!r} is not a CIDR: {error}") from None
        return value

    @field_validator("digest_algorithms")
    @classmethod
    def _algorithms_listed_once(
        cls, value: tuple[Literal["MD5", "SHA-256"], ...]
    ) -> tuple[Literal["MD5", "SHA-256"], ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError(f"digest algorithms {list(value)} must be one or both, each once")
        return value

    @field_validator("domain")
    @classmethod
    def _domain_lower(cls, value: str) -> str:
        if not value or any(ch in value for ch in " @;:<>"):
            raise ValueError(f"domain {value!r} is not a host name")
        return value.lower()

    @model_validator(mode="after")
    def _timers_and_secret(self) -> ServeSettings:
        if not self.t1 < self.t2:
            raise ValueError(f"T1 {self.t1} must be less than T2 {self.t2}")
        if self.environment == "production" and self.timer_c <= 180:
            raise ValueError(
                f"Timer C {self.timer_c} must exceed 180 s in production (RFC 3261 §16.6)"
            )
        if self.min_expires > self.max_expires:
            raise ValueError(
                f"min_expires {self.min_expires} exceeds max_expires {self.max_expires}"
            )
        if self.environment == "production" and (self.secret or "").lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("RONGHE_SECRET must be set to a real secret in production")
        return self


def load_secret(settings: ServeSettings) -> bytes:
    """The deployment secret: from settings, else from (or newly into) the secret file."""
    if settings.secret:
        return settings.secret.encode()
    path = settings.secret_file
    if path.exists():
        return path.read_bytes().strip()
    value = secrets.token_hex(32).encode()
    path.touch(mode=0o600)
    path.write_bytes(value)
    return value
