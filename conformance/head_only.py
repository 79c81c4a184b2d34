"""A request sent as its head alone: the body it declares never follows, and the answer is read all the same.

The contract answers an upload past ``max_upload_bytes`` with ``413`` by its ``Content-Length``, before reading
it. httpx cannot send a head without its body (h11 refuses to end a message shorter than it declared), and
sending the body would mean sending more than the limit: 100 MiB, or gigabytes where a deployment documents more.
So the head goes over a plain socket (TLS for ``https``), and the answer is parsed by :mod:`http.client`; the
request is counted against the budget and its answer recorded and inspected like any other.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Callable, Mapping

import httpx

from conformance.client import RequestBudget
from conformance.exchange import Exchange
from conformance.outcomes import CheckFailed
from conformance.scope import current_scope

__all__ = ["send_head_only"]

#: The most of an answer's body kept (a problem is a few hundred bytes).
_BODY_LIMIT = 64 * 1024


def send_head_only(
    url: httpx.URL,
    method: str,
    headers: Mapping[str, str],
    *,
    budget: RequestBudget,
    observer: Callable[[Exchange], None],
    timeout: float,
) -> httpx.Response:
    """Send ``method url`` with ``headers`` (which declare a body) and no body; the server's answer to the head.

    :raises CheckFailed: no answer within ``timeout`` seconds (the server waits for the body it was promised).
    """
    current_scope().raise_if_cancelled()
    budget.spend()
    request = httpx.Request(method, url, headers={"Host": _host_header(url), **headers})
    try:
        with _connect(url, timeout) as connection:
            connection.sendall(_head(request))
            status, answer_headers, body = _read_answer(connection, method)
    except (OSError, http.client.HTTPException) as error:
        raise CheckFailed(
            f"{method} {url.path} declaring a body it never sent: no answer within {timeout:g} s ({error!r}); "
            "the contract answers by Content-Length, before reading the body"
        ) from None
    response = httpx.Response(status, headers=answer_headers, content=body, request=request)
    observer(Exchange.from_httpx(response))
    return response


def _host_header(url: httpx.URL) -> str:
    default_port = 443 if url.scheme == "https" else 80
    return url.host if url.port in (None, default_port) else f"{url.host}:{url.port}"


def _connect(url: httpx.URL, timeout: float) -> socket.socket:
    port = url.port or (443 if url.scheme == "https" else 80)
    connection = socket.create_connection((url.host, port), timeout=timeout)
    if url.scheme != "https":
        return connection
    # httpx's own trust store and verification: the same deployment, the same certificate checks.
    return httpx.create_ssl_context().wrap_socket(connection, server_hostname=url.host)


def _head(request: httpx.Request) -> bytes:
    target = request.url.raw_path.decode("ascii")
    lines = [f"{request.method} {target} HTTP/1.1", *(f"{name}: {value}" for name, value in _as_sent(request))]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _as_sent(request: httpx.Request) -> list[tuple[str, str]]:
    encoding = request.headers.encoding
    return [(name.decode(encoding), value.decode(encoding)) for name, value in request.headers.raw]


def _read_answer(connection: socket.socket, method: str) -> tuple[int, list[tuple[str, str]], bytes]:
    answer = http.client.HTTPResponse(connection, method=method)
    try:
        answer.begin()
        return answer.status, answer.getheaders(), answer.read(_BODY_LIMIT)
    finally:
        answer.close()
