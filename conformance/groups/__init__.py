"""The check groups: one module each, registering its checks with :func:`conformance.checks.check` on import.

``contract`` (Schemathesis over the whole document), ``auth``, ``lifecycle``, ``data``, ``webhooks``, ``http``,
``errors`` and ``rate-limit``; :data:`conformance.checks.GROUPS` is their run order.
"""

from __future__ import annotations

import importlib

from conformance.checks import GROUPS

__all__ = ["GROUPS", "load_group", "module_name"]


def module_name(group: str) -> str:
    """The module that registers ``group``'s checks."""
    return f"{__name__}.{group.replace('-', '_')}"


def load_group(group: str) -> None:
    """Import ``group``'s module (its checks register themselves); ImportError and the like pass through."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; use one of {', '.join(GROUPS)}")
    importlib.import_module(module_name(group))
