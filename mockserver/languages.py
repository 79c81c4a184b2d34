"""The languages the mock accepts: Whisper's two-letter codes (the contract's ``Language`` is ``auto`` or 2 letters)."""

from __future__ import annotations

__all__ = ["SUPPORTED_LANGUAGES", "is_supported"]

# Whisper's multilingual model; its three-letter codes (haw, yue) cannot be asked for under the contract's pattern.
_WHISPER_CODES = """
af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha he hi hr ht hu hy id is
it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt ro ru sa sd si sk
sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh
"""

SUPPORTED_LANGUAGES = frozenset(_WHISPER_CODES.split())


def is_supported(language: str) -> bool:
    """``auto`` or a supported two-letter code."""
    return language == "auto" or language in SUPPORTED_LANGUAGES
