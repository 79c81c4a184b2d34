"""TLS: the certificate a server serves HTTPS with, and the CAs its outbound clients trust.

Both are read at start-up (`check_tls`), so that a missing file, a key that does not match its certificate or a wrong
password is a `ConfigError` (a usage error on the command line) instead of a traceback from uvicorn or a failure at
the first webhook. Outbound clients always verify the peer's certificate and host name: ``ca_bundle`` replaces the
default trust store (certifi's, as httpx uses it) with the CAs of one PEM file, and nothing turns verification off.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass, field
from typing import NoReturn, Self, TypedDict

import httpx

from voxcontract.errors import ConfigError
from voxcontract.settings import CoreSettings

__all__ = ["ServerCertificate", "UvicornTLSOptions", "check_tls", "client_ssl_context"]


class UvicornTLSOptions(TypedDict, total=False):
    """The keyword arguments of ``uvicorn.Config`` / ``uvicorn.run`` that serve HTTPS (none: plain HTTP)."""

    ssl_certfile: str
    ssl_keyfile: str
    ssl_keyfile_password: str | None


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """A server's certificate (chain) and private key, PEM files, and the key's password if it is encrypted."""

    certfile: str
    keyfile: str
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: CoreSettings) -> Self | None:
        """The certificate ``settings`` name, or None for plain HTTP."""
        if not (settings.ssl_certfile and settings.ssl_keyfile):
            return None
        return cls(settings.ssl_certfile, settings.ssl_keyfile, settings.ssl_keyfile_password)

    def check(self) -> Self:
        """Load the files as uvicorn will; `ConfigError` saying what is wrong when they cannot serve HTTPS."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        _load_certificates(context, "ssl_certfile", self.certfile)
        _check_readable("ssl_keyfile", self.keyfile)
        try:
            # Without a password OpenSSL would prompt on the terminal for an encrypted key: refuse instead.
            context.load_cert_chain(self.certfile, self.keyfile, self.password or _password_missing)
        except ssl.SSLError as exc:
            wrong_password = " (or ssl_keyfile_password is wrong)" if self.password else ""
            raise ConfigError(
                f"ssl_keyfile {self.keyfile} is not the PEM private key of ssl_certfile {self.certfile}"
                f"{wrong_password}: {exc.reason or exc}"
            ) from None
        return self

    def uvicorn_options(self) -> UvicornTLSOptions:
        """uvicorn's arguments that serve HTTPS with this certificate."""
        return {"ssl_certfile": self.certfile, "ssl_keyfile": self.keyfile, "ssl_keyfile_password": self.password}


def _password_missing() -> NoReturn:
    raise ConfigError("ssl_keyfile is encrypted: give its password as ssl_keyfile_password")


def _check_readable(setting: str, path: str) -> None:
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as exc:
        raise ConfigError(f"{setting} {path} cannot be read: {exc.strerror or exc}") from None


def _load_certificates(context: ssl.SSLContext, setting: str, path: str) -> None:
    """Load the PEM certificates of ``path`` into ``context``, or say why they cannot be."""
    _check_readable(setting, path)
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as exc:
        raise ConfigError(f"{setting} {path} holds no PEM certificate: {exc.reason or exc}") from None


@functools.lru_cache(maxsize=8)
def client_ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """What outbound HTTPS clients verify servers with: certifi's CAs, or only those of ``ca_bundle`` (a PEM file).

    Host names are checked (``check_hostname``). Built once per bundle and shared: do not modify it.
    """
    if ca_bundle is None:
        return httpx.create_ssl_context(verify=True, trust_env=False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default
    _load_certificates(context, "ca_bundle", ca_bundle)
    return context


def check_tls(settings: CoreSettings) -> ServerCertificate | None:
    """At a server's start-up: its certificate, checked (None: plain HTTP), and its outbound trust store, loaded."""
    client_ssl_context(settings.ca_bundle)
    certificate = ServerCertificate.from_settings(settings)
    return certificate.check() if certificate else None
