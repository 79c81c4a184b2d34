"""Headless Chromium for the tests that show a page: the binary, a run, the facts of a screenshot, a proxy that
records every host the browser tries to reach."""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import pytest

__all__ = ["BROWSER_OWN_HOSTS", "RecordingProxy", "chromium_binary", "png_facts", "run_chromium"]

# Hosts Chromium itself talks to (network time, component updater, sign-in), whatever the page holds.
BROWSER_OWN_HOSTS = {"clients2.google.com", "update.googleapis.com", "accounts.google.com"}


def chromium_binary() -> str:
    """Debian's ``chromium`` on PATH; the project's set-up installs it, so its absence is a failure."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("chromium is not on PATH: run the project's set-up (it installs Debian's chromium package)")


def run_chromium(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with a throwaway profile under ``tmp_path``, quiet about its own background traffic."""
    command = [
        chromium_binary(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def png_facts(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the inflated image data of a PNG (signature and chunk layout checked)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    offset, width, height, idat = 8, 0, 0, b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    return width, height, zlib.decompress(idat)


class RecordingProxy:
    """A proxy that answers nothing and notes the host of every request sent through it."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(2)
                try:
                    line = connection.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                except OSError:
                    continue
                if not line:
                    continue  # a connection opened ahead of need (a preconnect) and closed unused requests nothing
                match = re.match(r"\S+ (?:https?://)?([^/:\s]+)", line)
                self.hosts.append(match.group(1) if match else line)

    def close(self) -> None:
        self._server.close()
