"""Typed settings. Defaults are set only here; CLI flags and ``VOXCONTRACT_*`` variables override them.

Each app (mock, reference) subclasses :class:`CoreSettings` with its own fields; :meth:`from_env` reads
every field of the subclass from the environment, so a new field needs no parsing code.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, Self

from voxcontract.errors import ConfigError

__all__ = ["ENV_PREFIX", "CoreSettings"]

ENV_PREFIX = "VOXCONTRACT_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CoreSettings:
    """What every VoxScriber server built on the core needs."""

    host: str = "127.0.0.1"
    port: int = 8080
    #: API keys accepted as ``Authorization: Bearer <key>`` (apps may add a key store of their own).
    api_keys: tuple[str, ...] = ()
    #: Rate limit per API key, in the ``limits`` notation ("120/minute", "5/second").
    rate_limit: str = "120/minute"
    #: Where rate-limit counters live: ``memory://`` or e.g. ``redis://host:6379``.
    rate_limit_storage: str = "memory://"
    #: Failed authentications (well-formed but unknown keys) allowed per client address, in limits notation;
    #: past it every authenticated request from that address is answered 429 until the window ends. "" = no limit.
    auth_failure_limit: str = "60/minute"
    #: Request header fields: at most this many bytes in all (names and values) and this many fields, else 431.
    max_header_bytes: int = 16_384
    max_header_count: int = 100
    #: The largest accepted upload body in bytes (the contract's documented default).
    max_upload_bytes: int = 104_857_600
    #: The longest accepted media in seconds (the contract's documented default: 4 hours); longer uploads are
    #: refused with ``media_too_long``.
    max_media_seconds: float = 14_400.0
    #: Validate responses against the contract (costs about a fifth of a status poll's time).
    validate_responses: bool = True
    #: Serve requests that every check accepts straight from their handlers (voxcontract.middleware.fast_path);
    #: off, every request takes Connexion's whole stack (the answers are the same, about half as fast).
    fast_path: bool = True
    #: Origins whose browser pages may call the API (CORS): ``*`` for any, or e.g. ``https://app.example.com``;
    #: empty: no CORS headers, browsers refuse cross-origin calls.
    cors_origins: tuple[str, ...] = ()
    log_level: str = "info"
    #: HTTPS: the server's certificate (chain) and private key, PEM files; both or neither (plain HTTP).
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    #: The password of an encrypted ``ssl_keyfile``.
    ssl_keyfile_password: str | None = dataclasses.field(default=None, repr=False)
    #: Outbound HTTPS (URL uploads, webhooks) trusts only the CAs in this PEM file instead of certifi's store.
    #: Certificates and host names are always verified.
    ca_bundle: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, not {self.port}")
        if self.max_upload_bytes <= 0:
            raise ConfigError("max_upload_bytes must be positive")
        if self.max_header_bytes <= 0 or self.max_header_count <= 0:
            raise ConfigError("max_header_bytes and max_header_count must be positive")
        if not (math.isfinite(self.max_media_seconds) and self.max_media_seconds > 0):
            raise ConfigError("max_media_seconds must be a positive number of seconds")
        if any(not key or any(ch.isspace() for ch in key) for key in self.api_keys):
            raise ConfigError("API keys must be non-empty and contain no whitespace")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ConfigError("ssl_certfile and ssl_keyfile go together: give both (HTTPS) or neither (HTTP)")
        if self.ssl_keyfile_password and not self.ssl_keyfile:
            raise ConfigError("ssl_keyfile_password needs ssl_certfile and ssl_keyfile")

    @property
    def scheme(self) -> str:
        """``https`` when the server has a certificate, else ``http``."""
        return "https" if self.ssl_certfile else "http"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """Defaults, then ``VOXCONTRACT_<FIELD>`` variables, then explicit overrides (None = not given)."""
        environ = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = environ.get(ENV_PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = _parse(field.name, hints[field.name], raw)
        values.update({name: value for name, value in overrides.items() if value is not None})
        unknown = set(values) - {field.name for field in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)


def _parse(name: str, hint: Any, raw: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        inner = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return None if raw.strip() == "" else _parse(name, inner[0], raw)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_parse(name, item, part.strip()) for part in raw.split(",") if part.strip())
    if hint is bool:
        lowered = raw.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be true or false, not {raw!r}")
    if hint in (int, float):
        try:
            return hint(raw)
        except ValueError:
            raise ConfigError(f"{ENV_PREFIX}{name.upper()} must be a number, not {raw!r}") from None
    return raw
