"""Throwaway certificate authorities for the TLS tests (``trustme``), written out as the PEM files servers take."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import trustme

from conformance.receiver import WebhookReceiver
from voxcontract.serving import free_port
from voxcontract.tls import ServerCertificate

#: The address ``localhost`` resolves to first: the one ``reference_impl.net`` pins a request for ``localhost`` to,
#: so the one a server must listen on to be reached by that name.
LOCALHOST_IP = str(socket.getaddrinfo("localhost", None, type=socket.SOCK_STREAM)[0][4][0])


class ThrowawayCA:
    """A CA that exists only for a test run: its bundle (``bundle``) and the server certificates it issues."""

    def __init__(self, directory: Path, name: str) -> None:
        self.directory = directory
        self.name = name
        self._ca = trustme.CA(organization_name=f"voxcontract tests {name}")
        self.bundle = directory / f"{name}-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.bundle))
        self._issued = 0

    def issue(self, *identities: str) -> ServerCertificate:
        """A certificate for ``identities`` (host names or IPs) and its key, as files."""
        self._issued += 1
        issued = self._ca.issue_cert(*identities)
        certfile = self.directory / f"{self.name}-{self._issued}-cert.pem"
        keyfile = self.directory / f"{self.name}-{self._issued}-key.pem"
        certfile.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(keyfile))
        return ServerCertificate(str(certfile), str(keyfile))

    def context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only."""
        return ssl.create_default_context(cafile=str(self.bundle))


@contextlib.contextmanager
def https_receiver(certificate: ServerCertificate) -> Iterator[WebhookReceiver]:
    """The conformance webhook receiver over HTTPS on the address ``localhost`` resolves to, reached as
    ``https://localhost:<port>/hook`` (it answers 500 to an event's first attempt, 200 to the next)."""
    port = free_port(LOCALHOST_IP)
    public_url = f"https://localhost:{port}/hook"
    with WebhookReceiver(LOCALHOST_IP, port, public_url=public_url, certificate=certificate) as receiver:
        yield receiver
