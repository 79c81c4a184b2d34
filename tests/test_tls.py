"""The core's TLS: certificate settings, their start-up check, the outbound trust store, HTTPS from the serving
helper, and the command line refusing TLS mistakes as usage errors (exit 2, one line, no traceback)."""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mockserver import cli as mock_cli
from tests.certificates import ThrowawayCA
from voxcontract import cli
from voxcontract.errors import ConfigError
from voxcontract.serving import BackgroundServer
from voxcontract.settings import CoreSettings
from voxcontract.tls import ServerCertificate, check_tls, client_ssl_context


@pytest.fixture(scope="module")
def certificate(trusted: ThrowawayCA) -> ServerCertificate:
    return trusted.issue("127.0.0.1", "localhost")


def encrypted_copy(certificate: ServerCertificate, password: bytes) -> ServerCertificate:
    key = serialization.load_pem_private_key(Path(certificate.keyfile).read_bytes(), None)
    keyfile = Path(certificate.keyfile).with_name("encrypted-key.pem")
    encryption = serialization.BestAvailableEncryption(password)
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))
    return ServerCertificate(certificate.certfile, str(keyfile))


# --- settings --------------------------------------------------------------------------------------------------------


def test_tls_settings_come_from_the_environment(certificate: ServerCertificate, trusted: ThrowawayCA) -> None:
    settings = CoreSettings.from_env(
        {
            "VOXCONTRACT_SSL_CERTFILE": certificate.certfile,
            "VOXCONTRACT_SSL_KEYFILE": certificate.keyfile,
            "VOXCONTRACT_SSL_KEYFILE_PASSWORD": "hunter2",
            "VOXCONTRACT_CA_BUNDLE": str(trusted.bundle),
        }
    )

    assert (settings.ssl_certfile, settings.ssl_keyfile) == (certificate.certfile, certificate.keyfile)
    assert (settings.ssl_keyfile_password, settings.ca_bundle) == ("hunter2", str(trusted.bundle))
    assert settings.scheme == "https"
    assert "hunter2" not in repr(settings)
    assert CoreSettings().scheme == "http"


@pytest.mark.parametrize("given", ["ssl_certfile", "ssl_keyfile"])
def test_certificate_and_key_go_together(given: str) -> None:
    with pytest.raises(ConfigError, match="ssl_certfile and ssl_keyfile go together"):
        CoreSettings.from_env({}, **{given: "/etc/server.pem"})


# --- the start-up check ----------------------------------------------------------------------------------------------


def test_a_good_certificate_passes_and_names_uvicorns_options(certificate: ServerCertificate) -> None:
    settings = CoreSettings(ssl_certfile=certificate.certfile, ssl_keyfile=certificate.keyfile)

    assert check_tls(settings) == certificate
    assert certificate.uvicorn_options() == {
        "ssl_certfile": certificate.certfile,
        "ssl_keyfile": certificate.keyfile,
        "ssl_keyfile_password": None,
    }
    assert check_tls(CoreSettings()) is None


def test_an_encrypted_key_needs_its_password(certificate: ServerCertificate) -> None:
    encrypted = encrypted_copy(certificate, b"s3cret")

    with pytest.raises(ConfigError, match="ssl_keyfile is encrypted: give its password as ssl_keyfile_password"):
        encrypted.check()
    with pytest.raises(ConfigError, match="or ssl_keyfile_password is wrong"):
        ServerCertificate(encrypted.certfile, encrypted.keyfile, "wrong").check()
    ServerCertificate(encrypted.certfile, encrypted.keyfile, "s3cret").check()


def test_unusable_certificate_files_are_config_errors(
    certificate: ServerCertificate, untrusted: ThrowawayCA, tmp_path: Path
) -> None:
    other_key = untrusted.issue("localhost").keyfile
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("not a certificate\n")
    cases = {
        "ssl_certfile .*missing.pem cannot be read: No such file": (str(tmp_path / "missing.pem"), certificate.keyfile),
        "ssl_keyfile .*missing.pem cannot be read": (certificate.certfile, str(tmp_path / "missing.pem")),
        "ssl_certfile .* cannot be read: Is a directory": (str(tmp_path), certificate.keyfile),
        "ssl_certfile .*notes.txt holds no PEM certificate": (str(not_pem), certificate.keyfile),
        "ssl_keyfile .*notes.txt is not the PEM private key of ssl_certfile": (certificate.certfile, str(not_pem)),
        "is not the PEM private key .*KEY_VALUES_MISMATCH": (certificate.certfile, other_key),
    }
    for message, (certfile, keyfile) in cases.items():
        with pytest.raises(ConfigError, match=message):
            ServerCertificate(certfile, keyfile).check()


def test_the_ca_bundle_must_be_a_readable_pem_file(tmp_path: Path, certificate: ServerCertificate) -> None:
    with pytest.raises(ConfigError, match=r"ca_bundle .*nowhere\.pem cannot be read"):
        client_ssl_context(str(tmp_path / "nowhere.pem"))
    with pytest.raises(ConfigError, match=r"ca_bundle .* holds no PEM certificate"):
        client_ssl_context(certificate.keyfile)


def test_outbound_contexts_verify_certificates_and_host_names(trusted: ThrowawayCA) -> None:
    for context in (client_ssl_context(), client_ssl_context(str(trusted.bundle))):
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname is True
    assert client_ssl_context(str(trusted.bundle)) is client_ssl_context(str(trusted.bundle))  # loaded once


# --- HTTPS from the serving helper -----------------------------------------------------------------------------------


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.url.scheme)


@pytest.fixture(scope="module")
def https_server(certificate: ServerCertificate) -> Iterator[BackgroundServer]:
    with BackgroundServer(Starlette(routes=[Route("/", hello)]), certificate=certificate) as server:
        yield server


def test_background_server_serves_https(https_server: BackgroundServer, trusted: ThrowawayCA) -> None:
    assert https_server.base_url.startswith("https://127.0.0.1:")
    response = httpx.get(https_server.base_url + "/", verify=trusted.context())
    assert (response.status_code, response.text) == (200, "https")


def test_clients_that_do_not_trust_the_ca_are_refused(https_server: BackgroundServer, untrusted: ThrowawayCA) -> None:
    for verify in (untrusted.context(), client_ssl_context()):
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(https_server.base_url + "/", verify=verify)


# --- the command line ------------------------------------------------------------------------------------------------


def usage_error(args: list[str]) -> str:
    result = CliRunner().invoke(cli.main, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not an exception escaping with a traceback
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def no_tls_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SSL_CERTFILE", "SSL_KEYFILE", "SSL_KEYFILE_PASSWORD", "CA_BUNDLE"):
        monkeypatch.delenv(f"VOXCONTRACT_{name}", raising=False)


@pytest.mark.usefixtures("no_tls_environment")
@pytest.mark.parametrize("command", ["mock", "serve"])
def test_tls_mistakes_are_usage_errors(
    command: str, certificate: ServerCertificate, untrusted: ThrowawayCA, tmp_path: Path
) -> None:
    base = [command] if command == "mock" else [command, "--data-dir", str(tmp_path / "data")]
    other_key = untrusted.issue("localhost").keyfile
    mistakes = {
        "ssl_certfile and ssl_keyfile go together": ["--ssl-certfile", certificate.certfile],
        "ssl_keyfile .*gone.pem cannot be read": [
            *("--ssl-certfile", certificate.certfile, "--ssl-keyfile", str(tmp_path / "gone.pem"))
        ],
        "KEY_VALUES_MISMATCH": ["--ssl-certfile", certificate.certfile, "--ssl-keyfile", other_key],
        "ca_bundle .* holds no PEM certificate": ["--ca-bundle", certificate.keyfile],
    }
    for message, flags in mistakes.items():
        output = usage_error([*base, *flags])
        assert re.search(f"error: .*{message}", output), output


@pytest.mark.usefixtures("no_tls_environment")
def test_a_worker_refuses_an_unusable_ca_bundle(tmp_path: Path) -> None:
    output = usage_error(["worker", "--data-dir", str(tmp_path), "--ca-bundle", str(tmp_path / "nowhere.pem")])
    assert "ca_bundle" in output
    assert "cannot be read" in output


@pytest.mark.usefixtures("no_tls_environment")
def test_certificate_flags_reach_the_server_and_its_banner(
    monkeypatch: pytest.MonkeyPatch, certificate: ServerCertificate
) -> None:
    served: list[ServerCertificate | None] = []
    monkeypatch.setattr(mock_cli, "serve_app", lambda app, host, port, level, tls=None: served.append(tls))
    result = CliRunner().invoke(
        cli.main,
        ["mock", "--port", "9443", "--ssl-certfile", certificate.certfile, "--ssl-keyfile", certificate.keyfile],
    )

    assert result.exit_code == 0, result.output
    assert served == [certificate]
    assert "https://127.0.0.1:9443" in result.output
    assert "http://" not in result.output
