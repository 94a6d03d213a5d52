"""Settings of every ``ronghe`` command: environment (``RONGHE_*``) first, command line on top.

One place reads the environment: :class:`CommonSettings` holds what every command shares
(the environment name, the database, the SIP domain), and :class:`ServeSettings` adds what
``ronghe serve`` needs. ``ronghe apikey`` and ``ronghe plan`` read the same variables, so a
key created with ``RONGHE_DATABASE_URL`` set lands in the database the server uses.

Validated on load. Production (``RONGHE_ENVIRONMENT=production``) refuses what is only
fit for a laboratory: a missing or placeholder secret (it signs digest nonces and flow
tokens and must be shared by every node, so it is never generated there), the demo
plan (it prints its extensions' passwords) and a Timer C of three minutes or less.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Literal, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dialplan.storage.database import DEFAULT_DATABASE_URL
from voip_core.transport.manager import DEFAULT_UDP_RECEIVE_BUFFER

__all__ = [
    "CommonSettings",
    "ServeSettings",
    "describe_errors",
    "load_secret",
    "settings_from_options",
]

_PLACEHOLDER_SECRETS: Final = frozenset({"", "changeme", "change-me", "secret", "ronghe"})
#: Prefix of every environment variable the settings read.
ENV_PREFIX: Final = "RONGHE_"

_S = TypeVar("_S", bound="CommonSettings")


class CommonSettings(BaseSettings):
    """What every ``ronghe`` command reads: ``RONGHE_ENVIRONMENT``, ``RONGHE_DATABASE_URL``
    and ``RONGHE_DOMAIN`` (or ``--environment``, ``--database-url``, ``--domain``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True)

    environment: Literal["development", "production"] = "development"
    database_url: str = DEFAULT_DATABASE_URL
    domain: str = "ronghe.local"

    @field_validator("domain")
    @classmethod
    def _domain_lower(cls, value: str) -> str:
        if not value or any(ch in value for ch in " @;:<>"):
            raise ValueError(f"domain {value!r} is not a host name")
        return value.lower()

    @property
    def production(self) -> bool:
        """Whether this is a production deployment."""
        return self.environment == "production"


class ServeSettings(CommonSettings):
    """Everything ``ronghe serve`` needs; see ``ronghe serve --help``."""

    sip_host: str = "0.0.0.0"
    sip_port: int = Field(5060, ge=1, le=65535)
    advertise: str | None = None
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=0, le=65535)
    redis_url: str | None = None
    #: This node's name in the node hops of the bindings it holds (voip_core.proxy.nodes);
    #: ``None``: its advertised address and SIP port. Unique per node, stable across restarts.
    node_name: str | None = Field(None, pattern=r"^[A-Za-z0-9._:\[\]-]{1,64}$")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"
    trace_sip: bool = False
    t1: float = Field(0.5, gt=0)
    t2: float = Field(4.0, gt=0)
    t4: float = Field(5.0, gt=0)
    timer_c: float = Field(181.0, gt=0)
    #: Challenge order. MD5 alone by default: RFC 8760 §2.4 would offer SHA-256 (first),
    #: but baresip 1.0 refuses any challenge list that holds SHA-256 and SIPp 3.6 answers
    #: only the first challenge; deployments whose phones all support SHA-256 give it.
    digest_algorithms: tuple[Literal["MD5", "SHA-256"], ...] = ("MD5",)
    tcp_idle_timeout: float = Field(600.0, gt=0)
    trusted_networks: tuple[str, ...] = ()
    #: ``None``: seed the demo plan on an empty database in development, never in production.
    demo: bool | None = None
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
    #: Guessing limits (voip_core.guard): failed digest answers per user and source
    #: address within the window that block the source for that user (0: never).
    auth_failure_limit: int = Field(5, ge=0)
    auth_failure_window: float = Field(60.0, gt=0)
    auth_block_seconds: float = Field(300.0, gt=0)
    auth_max_block_seconds: float = Field(86_400.0, gt=0)
    #: Flood limit (like Kamailio pike): requests per source address within the window
    #: above which the source is dropped for ``rate_block_seconds`` (0: no limit).
    rate_limit: int = Field(100, ge=0)
    rate_window: float = Field(2.0, gt=0)
    rate_block_seconds: float = Field(60.0, gt=0)
    #: Bearer token ``GET /metrics`` requires; ``None`` serves it to anyone who reaches
    #: the API listener (127.0.0.1 by default).
    metrics_token: str | None = Field(None, min_length=16)

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

    @model_validator(mode="after")
    def _timers_and_secret(self) -> ServeSettings:
        if not self.t1 < self.t2:
            raise ValueError(f"T1 {self.t1} must be less than T2 {self.t2}")
        if self.environment == "production" and self.timer_c <= 180:
            raise ValueError(
                f"Timer C {self.timer_c} must exceed 180 s in production (RFC 3261 §16.6)"
            )
        if self.auth_max_block_seconds < self.auth_block_seconds:
            raise ValueError(
                f"auth_max_block_seconds {self.auth_max_block_seconds} is below "
                f"auth_block_seconds {self.auth_block_seconds}"
            )
        if self.min_expires > self.max_expires:
            raise ValueError(
                f"min_expires {self.min_expires} exceeds max_expires {self.max_expires}"
            )
        if self.production:
            self._check_production()
        return self

    def _check_production(self) -> None:
        if self.demo:
            raise ValueError(
                "RONGHE_DEMO (--demo) is refused in production: the demo plan prints its "
                "extensions' passwords"
            )
        if self.secret is not None:
            if self.secret.strip().lower() in _PLACEHOLDER_SECRETS:
                raise ValueError("RONGHE_SECRET must be set to a real secret in production")
            return
        path = self.secret_file
        try:
            held = path.read_bytes().strip()
        except FileNotFoundError:
            raise ValueError(
                f"no deployment secret in production: set RONGHE_SECRET or write one to "
                f"the secret file {str(path)!r} (RONGHE_SECRET_FILE, --secret-file), "
                "which does not exist; it is generated only in development"
            ) from None
        except OSError as error:
            raise ValueError(
                f"cannot read the secret file {str(path)!r} (RONGHE_SECRET_FILE, "
                f"--secret-file): {error.strerror}"
            ) from None
        if held.decode("utf-8", "replace").lower() in _PLACEHOLDER_SECRETS:
            raise ValueError(
                f"the secret file {str(path)!r} (RONGHE_SECRET_FILE, --secret-file) holds "
                "no real secret; production needs one"
            )

    @property
    def seeds_demo(self) -> bool:
        """Whether to create the demo plan on an empty database (development only)."""
        return self.demo if self.demo is not None else not self.production


def settings_from_options(cls: type[_S], options: Mapping[str, object]) -> _S:
    """Settings of class ``cls``: the environment, overridden by the command-line
    ``options`` that are fields of ``cls`` and were given (not ``None``).

    Raises pydantic's ``ValidationError`` for invalid values.
    """
    overrides = {
        key: tuple(value) if isinstance(value, list) else value
        for key, value in options.items()
        if key in cls.model_fields and value is not None
    }
    # pydantic checks each value's type at run time; the mapping is untyped here.
    return cls(**overrides)  # type: ignore[arg-type]


def describe_errors(error: ValidationError) -> list[str]:
    """One line per invalid setting: ``<setting> (RONGHE_<NAME>): <problem>``."""
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        message = str(problem["msg"]).removeprefix("Value error, ")
        if field:
            lines.append(f"{field} ({ENV_PREFIX}{field.split('.')[0].upper()}): {message}")
        else:
            lines.append(message)
    return lines


def load_secret(settings: ServeSettings) -> bytes:
    """The deployment secret: from settings, else from the secret file, which only
    development creates when it is missing (validation refuses that in production)."""
    if settings.secret:
        return settings.secret.encode()
    path = settings.secret_file
    if path.exists():
        return path.read_bytes().strip()
    if settings.production:
        raise RuntimeError(f"no secret file {str(path)!r} in production")
    value = secrets.token_hex(32).encode()
    path.touch(mode=0o600)
    path.write_bytes(value)
    return value
