"""Outbound HTTP that cannot be turned against the server's own network (SSRF protection).

URL uploads and webhook deliveries fetch or post to URLs that clients choose. Every hop goes through `check_url`:
http(s) only, no credentials in the URL, and every address the host resolves to must be public (`check_address`)
unless the policy allow-lists it.

DNS pinning: the request then goes to the checked IP, never to the name, so a resolver that answers differently the
second time (DNS rebinding) cannot redirect it. With httpx 0.28 the simplest correct way is public API only: the
request URL carries the IP, the ``Host`` header carries the original host, and for https the ``sni_hostname``
request extension makes httpcore send SNI and verify the certificate against the original host name (never against
the IP it connects to). Certificates are always verified, against certifi's CAs or the policy's ``ca_bundle``
(`voxcontract.tls.client_ssl_context`). A fresh client per hop keeps a pooled TLS connection from being reused for
another host name on the same IP. ``trust_env=False`` keeps proxy variables from routing around all of this.
"""

from __future__ import annotations

import email.message
import functools
import ipaddress
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Protocol

import anyio
import anyio.to_thread
import httpx

from voxcontract.errors import PayloadTooLarge, UrlFetchFailed, UrlNotAllowed
from voxcontract.tls import client_ssl_context

__all__ = ["ChunkSink", "FetchResult", "NetworkPolicy", "check_address", "check_url", "fetch_into", "post_json"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SCHEMES = {"http": 80, "https": 443}
_REDIRECTS = {301, 302, 303, 307, 308}
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


@dataclass(frozen=True, slots=True)
class NetworkPolicy:
    """What outbound requests may reach, and how long and how much they may take.

    ``allowlist`` entries are CIDRs or bare IPs (``"127.0.0.1/32"``: allowed on any port) or host names, optionally
    with a port (``"127.0.0.1:8080"``, ``"[::1]:8080"``, ``"media.internal"``): a URL whose host (and port) matches
    such an entry verbatim skips the address check; the same address reached under another name or port does not.
    ``allow_private`` accepts every unicast address (development only). ``ca_bundle``: a PEM file of the CAs https
    servers' certificates must chain to (None: certifi's).
    """

    allow_private: bool = False
    allowlist: tuple[str, ...] = ()
    max_redirects: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    total_timeout: float = 300.0
    max_bytes: int = 104_857_600
    ca_bundle: str | None = None


class ChunkSink(Protocol):
    """Where a download's body goes, chunk by chunk (a media store's writer)."""

    async def write(self, chunk: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What `fetch_into` wrote: from where (after redirects), its media type, size and suggested file name."""

    final_url: str
    content_type: str | None
    size_bytes: int
    filename: str | None


@dataclass(frozen=True, slots=True)
class _Allowlist:
    networks: tuple[IPNetwork, ...]
    hosts: frozenset[str]


@functools.lru_cache(maxsize=64)
def _parse_allowlist(entries: tuple[str, ...]) -> _Allowlist:
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            hosts.add(entry.strip().lower())
    return _Allowlist(tuple(networks), frozenset(hosts))


# Checked in this order; the first that matches names the reason. Those after the first two are "private" ones.
_ALWAYS_REFUSED: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("an unspecified address", lambda ip: ip.is_unspecified),
    ("a multicast address", lambda ip: ip.is_multicast),
)
_PRIVATE: tuple[tuple[str, Callable[[IPAddress], bool]], ...] = (
    ("a loopback address", lambda ip: ip.is_loopback),
    ("a cloud metadata address", lambda ip: ip in _METADATA),
    ("a link-local address", lambda ip: ip.is_link_local),
    ("a shared (carrier-grade NAT) address", lambda ip: ip in _SHARED),
    ("a private address", lambda ip: ip.is_private),
    ("a reserved address", lambda ip: ip.is_reserved),
    ("a non-public address", lambda ip: not ip.is_global),
)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, 6to4 or NAT64 address reaches, if it is one."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _refusal(ip: IPAddress, policy: NetworkPolicy) -> str | None:
    """Why ``ip`` may not be reached under ``policy``, or None when it may."""
    if any(ip in net for net in _parse_allowlist(policy.allowlist).networks):
        return None
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        reason = _refusal(inner, policy)
        return f"{reason} (embeds {inner})" if reason else None
    checks = _ALWAYS_REFUSED if policy.allow_private else _ALWAYS_REFUSED + _PRIVATE
    return next((reason for reason, matches in checks if matches(ip)), None)


def check_address(ip: IPAddress, policy: NetworkPolicy, *, host: str | None = None) -> None:
    """Raise `UrlNotAllowed` unless ``ip`` is a public address or allow-listed; ``host`` names it in the detail."""
    reason = _refusal(ip, policy)
    if reason is None:
        return
    subject = f"{host} resolves to {ip}," if host and host != str(ip) else f"{ip} is"
    raise UrlNotAllowed(f"{subject} {reason}")


def _parse_url(url: str) -> httpx.URL:
    """The URL, if it is an absolute http(s) URL with a host and without credentials."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise UrlNotAllowed(f"{url!r} is not a valid URL: {exc}") from None
    if parsed.scheme not in _SCHEMES:
        raise UrlNotAllowed(f"{url!r}: only http and https URLs are allowed")
    if not parsed.raw_host:
        raise UrlNotAllowed(f"{url!r} has no host")
    if parsed.userinfo:
        raise UrlNotAllowed(f"{url!r}: credentials in URLs are not allowed")
    return parsed


def _host_allowlisted(parsed: httpx.URL, policy: NetworkPolicy) -> bool:
    hosts = _parse_allowlist(policy.allowlist).hosts
    host = parsed.raw_host.decode("ascii").lower()
    port = parsed.port or _SCHEMES[parsed.scheme]
    shown = f"[{host}]" if ":" in host else host
    return bool(hosts & {host, shown, f"{shown}:{port}"})


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (itself when it is an IP literal), without duplicates."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UrlFetchFailed(f"could not resolve {host}: {exc}") from None
    addresses = dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    if not addresses:
        raise UrlFetchFailed(f"{host} resolves to no address")
    return list(addresses)


def check_url(url: str, policy: NetworkPolicy) -> str:
    """Check ``url`` and resolve its host; return the IP to connect to (every resolved address must pass)."""
    parsed = _parse_url(url)
    host = parsed.raw_host.decode("ascii")
    addresses = _resolve(host, parsed.port or _SCHEMES[parsed.scheme])
    if not _host_allowlisted(parsed, policy):
        for ip in addresses:
            check_address(ip, policy, host=host)
    return str(addresses[0])


async def _checked(url: str, policy: NetworkPolicy) -> str:
    """`check_url` off the event loop (``getaddrinfo`` blocks)."""
    return await anyio.to_thread.run_sync(check_url, url, policy)


def _client(
    timeout: httpx.Timeout, policy: NetworkPolicy, transport: httpx.AsyncBaseTransport | None
) -> httpx.AsyncClient:
    verify = client_ssl_context(policy.ca_bundle)
    return httpx.AsyncClient(
        transport=transport, timeout=timeout, verify=verify, follow_redirects=False, trust_env=False
    )


def _pinned_request(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    ip: str,
    *,
    headers: httpx.Headers | None = None,
    content: bytes = b"",
) -> httpx.Request:
    """A request to ``ip`` that still says (Host, SNI, certificate check) it is for ``url``'s host."""
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii")
    extensions = {"sni_hostname": host} if parsed.scheme == "https" and host != ip else {}
    all_headers = httpx.Headers(headers)
    all_headers["Host"] = parsed.netloc.decode("ascii")
    target = parsed.copy_with(host=ip)
    return client.build_request(method, target, headers=all_headers, content=content or None, extensions=extensions)


@contextmanager
def _network_errors(url: str) -> Iterator[None]:
    """Turn httpx's transport errors into `UrlFetchFailed` naming ``url``."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise UrlFetchFailed(f"{url}: timed out ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        raise UrlFetchFailed(f"{url}: {type(exc).__name__}: {exc or 'network error'}") from None


def _redirect_target(response: httpx.Response, url: str) -> str | None:
    if response.status_code not in _REDIRECTS or "location" not in response.headers:
        return None
    return str(httpx.URL(url).join(response.headers["location"]))


def _filename(response: httpx.Response, url: str) -> str | None:
    """The file name from Content-Disposition, else the URL's last path segment; never a path."""
    name: str | None = None
    if disposition := response.headers.get("content-disposition"):
        message = email.message.Message()
        message["content-disposition"] = disposition
        name = message.get_filename()
    name = name or httpx.URL(url).path
    return PurePosixPath(name.replace("\\", "/")).name or None


def _content_type(response: httpx.Response) -> str | None:
    value = response.headers.get("content-type", "")
    return value.split(";")[0].strip().lower() or None


async def _stream_to(response: httpx.Response, sink: ChunkSink, url: str, max_bytes: int) -> int:
    """Write the body to ``sink``; `PayloadTooLarge` as soon as it passes ``max_bytes``."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"{url} is {declared} bytes, more than the limit of {max_bytes}")
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"{url} is more than the limit of {max_bytes} bytes")
        await sink.write(chunk)
    return size


async def _fetch_hop(
    url: str, sink: ChunkSink, policy: NetworkPolicy, transport: httpx.AsyncBaseTransport | None
) -> FetchResult | str:
    """One hop: the result when ``url`` answers 2xx, the next URL when it redirects."""
    ip = await _checked(url, policy)
    timeout = httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout)
    async with _client(timeout, policy, transport) as client:
        with _network_errors(url):
            response = await client.send(_pinned_request(client, "GET", url, ip), stream=True)
            try:
                if (location := _redirect_target(response, url)) is not None:
                    return location
                if not response.is_success:
                    raise UrlFetchFailed(f"{url} answered {response.status_code} {response.reason_phrase}")
                size = await _stream_to(response, sink, url, policy.max_bytes)
            finally:
                await response.aclose()
    return FetchResult(url, _content_type(response), size, _filename(response, url))


async def _follow(
    url: str, sink: ChunkSink, policy: NetworkPolicy, transport: httpx.AsyncBaseTransport | None
) -> FetchResult:
    """Follow redirects by hand, so that every hop is checked again."""
    current = url
    for _ in range(policy.max_redirects + 1):
        outcome = await _fetch_hop(current, sink, policy, transport)
        if isinstance(outcome, FetchResult):
            return outcome
        current = outcome
    raise UrlFetchFailed(f"{url}: more than {policy.max_redirects} redirects")


async def fetch_into(
    url: str, sink: ChunkSink, policy: NetworkPolicy, *, transport: httpx.AsyncBaseTransport | None = None
) -> FetchResult:
    """Download ``url`` into ``sink`` under ``policy``: only the final answer's body is written, once. The caller
    gives up what was written on failure (a media store's writer aborts).

    Raises `UrlNotAllowed`, `UrlFetchFailed` (network errors, timeouts, non-2xx, too many redirects) or
    `PayloadTooLarge`. ``transport`` is for tests.
    """
    try:
        with anyio.fail_after(policy.total_timeout):
            return await _follow(url, sink, policy, transport)
    except TimeoutError:
        raise UrlFetchFailed(f"{url}: took longer than {policy.total_timeout} s") from None


async def post_json(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    policy: NetworkPolicy,
    timeout: float | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """POST a JSON ``body`` to ``url`` (a webhook) and return the status; redirects are not followed.

    Raises `UrlNotAllowed`, or `UrlFetchFailed` on network errors and timeouts; the response body is not read.
    """
    ip = await _checked(url, policy)
    seconds = policy.read_timeout if timeout is None else timeout
    limits = httpx.Timeout(seconds, connect=min(seconds, policy.connect_timeout))
    all_headers = httpx.Headers({"Content-Type": "application/json"})
    all_headers.update(headers)
    async with _client(limits, policy, transport) as client:
        with _network_errors(url):
            request = _pinned_request(client, "POST", url, ip, headers=all_headers, content=body)
            response = await client.send(request, stream=True)
            await response.aclose()
    return response.status_code
