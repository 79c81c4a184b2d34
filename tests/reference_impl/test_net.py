"""SSRF-protected outbound HTTP: refusals, DNS pinning, limits, against real servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from reference_impl.net import FetchResult, NetworkPolicy, check_address, check_url, post_json
from tests.reference_impl.support import fetch_to_file
from voxcontract.errors import PayloadTooLarge, UrlFetchFailed, UrlNotAllowed
from voxcontract.serving import BackgroundServer

pytestmark = pytest.mark.anyio

AUDIO = bytes(range(256)) * 40  # 10,240 bytes
STRICT = NetworkPolicy()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# --- a small real server -------------------------------------------------------------------------------------------

RECEIVED: list[bytes] = []


async def audio(request: Request) -> Response:
    headers = {"Content-Disposition": 'attachment; filename="../talk.mp3"'}
    return Response(AUDIO, media_type="audio/mpeg", headers=headers)


async def chunked(request: Request) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield AUDIO

    return StreamingResponse(body(), media_type="audio/wav")


async def slow(request: Request) -> Response:
    await asyncio.sleep(1.0)
    return Response(b"late")


async def missing(request: Request) -> Response:
    return Response(b"no", status_code=404)


async def redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(request.query_params["to"], status_code=302)


async def loop(request: Request) -> RedirectResponse:
    return RedirectResponse("/loop", status_code=302)


async def hook(request: Request) -> Response:
    RECEIVED.append(await request.body())
    return Response(status_code=204)


async def hook_moved(request: Request) -> RedirectResponse:
    return RedirectResponse("/hook", status_code=307)


APP = Starlette(
    routes=[
        Route("/files/audio.mp3", audio),
        Route("/chunked", chunked),
        Route("/slow", slow, methods=["GET", "POST"]),
        Route("/missing", missing),
        Route("/redirect", redirect),
        Route("/loop", loop),
        Route("/hook", hook, methods=["POST"]),
        Route("/hook-moved", hook_moved, methods=["POST"]),
    ]
)


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(APP) as running:
        yield running


@pytest.fixture
def policy(server: BackgroundServer) -> NetworkPolicy:
    """This server, and only it (exact host and port), may be reached: it plays a public host."""
    return NetworkPolicy(allowlist=(f"127.0.0.1:{server.port}",), read_timeout=5.0)


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, list[str]], None]:
    """Make chosen names resolve to chosen addresses; every other name resolves as usual."""
    real = socket.getaddrinfo
    table: dict[str, list[str]] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in table:
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in table[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table.__setitem__


# --- check_address: a property over the forbidden networks -----------------------------------------------------------

FORBIDDEN = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16",
    "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
    "::ffff:127.0.0.0/104", "::ffff:10.0.0.0/104", "::ffff:169.254.0.0/112",  # IPv4-mapped
    "2002:7f00::/24", "2002:a00::/24", "64:ff9b::a00:0/104", "64:ff9b::7f00:0/104",  # 6to4 and NAT64 of private v4
]  # fmt: skip
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2001:4860:4860::8888", "::ffff:8.8.8.8"]


@st.composite
def forbidden_addresses(draw: st.DrawFn) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    network = ipaddress.ip_network(draw(st.sampled_from(FORBIDDEN)))
    offset = draw(st.integers(0, network.num_addresses - 1))
    return network[offset]


@given(forbidden_addresses())
def test_check_address_refuses_every_forbidden_network(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    with pytest.raises(UrlNotAllowed):
        check_address(ip, STRICT)


@pytest.mark.parametrize("text", PUBLIC)
def test_check_address_accepts_public_addresses(text: str) -> None:
    check_address(ipaddress.ip_address(text), STRICT)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("169.254.169.254", "cloud metadata"),
        ("::ffff:127.0.0.1", "loopback address (embeds 127.0.0.1)"),
        ("100.64.1.1", "carrier-grade NAT"),
        ("fd12::1", "private"),
    ],
)
def test_check_address_says_why(text: str, reason: str) -> None:
    with pytest.raises(UrlNotAllowed, match=reason.replace("(", r"\(").replace(")", r"\)")) as info:
        check_address(ipaddress.ip_address(text), STRICT)
    assert info.value.code == "url_not_allowed"
    assert info.value.status == 400


def test_allowlisted_network_is_accepted_and_nothing_else() -> None:
    policy = NetworkPolicy(allowlist=("127.0.0.1/32",))
    check_address(ipaddress.ip_address("127.0.0.1"), policy)
    check_address(ipaddress.ip_address("::ffff:127.0.0.1"), policy)
    for other in ("127.0.0.2", "::1", "10.0.0.1"):
        with pytest.raises(UrlNotAllowed):
            check_address(ipaddress.ip_address(other), policy)


def test_allow_private_still_refuses_multicast_and_unspecified() -> None:
    policy = NetworkPolicy(allow_private=True)
    check_address(ipaddress.ip_address("10.1.2.3"), policy)
    for ip in ("0.0.0.0", "224.0.0.1"):
        with pytest.raises(UrlNotAllowed):
            check_address(ipaddress.ip_address(ip), policy)


# --- check_url ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://[::1]/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",
        "http://0x7f000001/",
        "ftp://example.com/a.mp3",
        "file:///etc/passwd",
        "http://user:secret@example.com/a.mp3",
        "http:///nohost",
        "not a url",
    ],
)
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        check_url(url, STRICT)


def test_check_url_refuses_a_name_resolving_to_loopback(fake_dns: Callable[[str, list[str]], None]) -> None:
    fake_dns("evil.test", ["127.0.0.1"])
    with pytest.raises(UrlNotAllowed, match=r"evil\.test resolves to 127\.0\.0\.1, a loopback address"):
        check_url("https://evil.test/a.mp3", STRICT)


def test_check_url_needs_every_address_public(fake_dns: Callable[[str, list[str]], None]) -> None:
    fake_dns("rebind.test", ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(UrlNotAllowed, match=r"10\.0\.0\.7"):
        check_url("http://rebind.test/", STRICT)


def test_check_url_returns_the_address_to_pin(fake_dns: Callable[[str, list[str]], None]) -> None:
    fake_dns("media.example", ["93.184.216.34", "2606:2800:220:1::1"])
    assert check_url("https://media.example/a.mp3", STRICT) == "93.184.216.34"


def test_unresolvable_host_is_a_failed_fetch() -> None:
    with pytest.raises(UrlFetchFailed, match="could not resolve"):
        check_url("http://no-such-host.invalid/", STRICT)


# --- DNS pinning, seen by a transport -------------------------------------------------------------------------------


async def test_requests_go_to_the_checked_ip_with_host_and_sni(
    tmp_path: Path, fake_dns: Callable[[str, list[str]], None]
) -> None:
    fake_dns("media.example", ["93.184.216.34"])
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"abc", headers={"Content-Type": "audio/ogg; codecs=opus"})

    result = await fetch_to_file(
        "https://media.example:8443/dir/a.ogg?x=1", tmp_path / "a", STRICT, transport=httpx.MockTransport(answer)
    )
    assert result == FetchResult("https://media.example:8443/dir/a.ogg?x=1", "audio/ogg", 3, "a.ogg")
    (request,) = seen
    assert request.url == "https://93.184.216.34:8443/dir/a.ogg?x=1"
    assert request.headers["host"] == "media.example:8443"
    assert request.extensions["sni_hostname"] == "media.example"


# --- fetch_into a file, against a real server -------------------------------------------------------------------------


async def test_fetch_writes_the_file(server: BackgroundServer, policy: NetworkPolicy, tmp_path: Path) -> None:
    dest = tmp_path / "upload.bin"
    result = await fetch_to_file(f"{server.base_url}/files/audio.mp3", dest, policy)
    assert dest.read_bytes() == AUDIO
    assert result == FetchResult(f"{server.base_url}/files/audio.mp3", "audio/mpeg", len(AUDIO), "talk.mp3")
    assert list(tmp_path.iterdir()) == [dest]


async def test_fetch_follows_an_allowed_redirect(
    server: BackgroundServer, policy: NetworkPolicy, tmp_path: Path
) -> None:
    url = f"{server.base_url}/redirect?to=/files/audio.mp3"
    result = await fetch_to_file(url, tmp_path / "f", policy)
    assert result.final_url == f"{server.base_url}/files/audio.mp3"
    assert result.size_bytes == len(AUDIO)


def _forbidden_targets(port: int) -> list[str]:
    return [
        f"http://[::1]:{port}/files/audio.mp3",
        f"http://localhost:{port}/files/audio.mp3",
        f"http://127.0.0.1:{port + 1}/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://evil.test/",
        "file:///etc/passwd",
        "ftp://example.com/",
    ]


@pytest.mark.parametrize("index", range(8))
async def test_fetch_rechecks_every_redirect(
    server: BackgroundServer,
    policy: NetworkPolicy,
    tmp_path: Path,
    fake_dns: Callable[[str, list[str]], None],
    index: int,
) -> None:
    fake_dns("evil.test", ["127.0.0.1"])
    target = _forbidden_targets(server.port)[index]
    url = str(httpx.URL(f"{server.base_url}/redirect", params={"to": target}))
    with pytest.raises(UrlNotAllowed):
        await fetch_to_file(url, tmp_path / "f", policy)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["/files/audio.mp3", "/chunked"])
async def test_fetch_enforces_max_bytes(
    server: BackgroundServer, policy: NetworkPolicy, tmp_path: Path, path: str
) -> None:
    small = NetworkPolicy(allowlist=policy.allowlist, max_bytes=len(AUDIO) - 1)
    with pytest.raises(PayloadTooLarge):
        await fetch_to_file(server.base_url + path, tmp_path / "f", small)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("path", "detail"), [("/missing", "answered 404"), ("/loop", "more than 5 redirects"), ("/slow", "timed out")]
)
async def test_fetch_failures(server: BackgroundServer, tmp_path: Path, path: str, detail: str) -> None:
    policy = NetworkPolicy(allowlist=(f"127.0.0.1:{server.port}",), read_timeout=0.2)
    with pytest.raises(UrlFetchFailed, match=detail) as info:
        await fetch_to_file(server.base_url + path, tmp_path / "f", policy)
    assert info.value.code == "url_fetch_failed"
    assert list(tmp_path.iterdir()) == []


async def test_fetch_connection_refused_is_a_failed_fetch(tmp_path: Path) -> None:
    policy = NetworkPolicy(allowlist=("127.0.0.1/32",))
    with pytest.raises(UrlFetchFailed, match="ConnectError"):
        await fetch_to_file("http://127.0.0.1:1/", tmp_path / "f", policy)


async def test_fetch_total_timeout(server: BackgroundServer, tmp_path: Path) -> None:
    policy = NetworkPolicy(allowlist=(f"127.0.0.1:{server.port}",), total_timeout=0.2)
    with pytest.raises(UrlFetchFailed, match="took longer"):
        await fetch_to_file(server.base_url + "/slow", tmp_path / "f", policy)


# --- post_json ------------------------------------------------------------------------------------------------------


async def test_post_json_returns_the_status(server: BackgroundServer, policy: NetworkPolicy) -> None:
    RECEIVED.clear()
    status = await post_json(f"{server.base_url}/hook", b'{"type":"job.completed"}', {"webhook-id": "m1"}, policy, 2.0)
    assert status == 204
    assert RECEIVED == [b'{"type":"job.completed"}']


async def test_post_json_does_not_follow_redirects(server: BackgroundServer, policy: NetworkPolicy) -> None:
    RECEIVED.clear()
    assert await post_json(f"{server.base_url}/hook-moved", b"{}", {}, policy, 2.0) == 307
    assert RECEIVED == []


async def test_post_json_refuses_private_targets() -> None:
    with pytest.raises(UrlNotAllowed):
        await post_json("http://127.0.0.1:9/hook", b"{}", {}, STRICT)


async def test_post_json_times_out(server: BackgroundServer, policy: NetworkPolicy) -> None:
    with pytest.raises(UrlFetchFailed, match="timed out"):
        await post_json(f"{server.base_url}/slow", b"{}", {}, policy, 0.2)
