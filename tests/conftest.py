"""Shared fixtures. Set-up facts every test relies on: offline, no hub downloads."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
