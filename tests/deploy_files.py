"""Readers of the deployment files in ``deploy/``: systemd units, the shared environment file, the Compose file.

Small on purpose, and shared: ``tests/test_deploy.py`` checks the files against the settings and the command line,
and the multi-host test starts its nodes with exactly the units' commands and the environment file's variables.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DEPLOY_DIR",
    "compose_services",
    "env_file",
    "mentioned_settings",
    "unit_directives",
    "unit_exec_start",
]

DEPLOY_DIR = Path(__file__).resolve().parents[1] / "deploy"

_SETTING_NAME = re.compile(r"\bVOXCONTRACT_[A-Z0-9_]+\b")


def unit_directives(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit's ``[Section]`` -> its ``Key=value`` lines in order (a key may repeat, as systemd allows).

    Comments (``#``, ``;``) and blank lines are skipped; a line ending in ``\\`` continues on the next, as in
    systemd.unit(5).
    """
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in _logical_lines(path.read_text()):
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, equals, value = line.partition("=")
        if current is None or not equals:
            raise ValueError(f"{path.name}: not a directive of a section: {line!r}")
        current.append((key.strip(), value.strip()))
    return sections


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith(("#", ";"))):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    if pending:
        lines.append(pending.strip())
    return lines


def unit_exec_start(path: Path) -> list[str]:
    """The ``ExecStart`` of a unit's ``[Service]``, split as a shell would (a unit has exactly one)."""
    commands = [value for key, value in unit_directives(path).get("Service", []) if key == "ExecStart"]
    if len(commands) != 1:
        raise ValueError(f"{path.name}: expected one ExecStart in [Service], found {len(commands)}")
    return shlex.split(commands[0])


def env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines of an environment file as systemd's ``EnvironmentFile`` and Compose's ``env_file`` read
    them (the format both accept: no ``export``, ``#`` comments, optional surrounding quotes)."""
    variables: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ValueError(f"{path.name}:{number}: not a KEY=value line: {line!r}")
        if key in variables:
            raise ValueError(f"{path.name}:{number}: {key} is set twice")
        variables[key] = _unquote(value.strip())
    return variables


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def mentioned_settings(text: str) -> set[str]:
    """Every ``VOXCONTRACT_*`` name in ``text``, comments included (a typo there misleads as much)."""
    return set(_SETTING_NAME.findall(text))


def compose_services(path: Path) -> dict[str, Any]:
    """The ``services`` of a Compose file (YAML anchors and ``<<`` merge keys resolved)."""
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        raise ValueError(f"{path.name}: no services")
    services: dict[str, Any] = document["services"]
    return services
