"""Shared fixtures. Set-up facts every test relies on: offline, no hub downloads."""

from __future__ import annotations

import os

import pytest

from tests.certificates import ThrowawayCA

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def trusted(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    """A throwaway CA the TLS tests trust (its bundle is handed to servers and clients)."""
    return ThrowawayCA(tmp_path_factory.mktemp("tls"), "trusted")


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCA:
    """Another CA, trusted by nobody: what an impostor's certificate comes from."""
    return ThrowawayCA(tmp_path_factory.mktemp("tls"), "untrusted")
