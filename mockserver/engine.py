"""The mock's deterministic transcription engine (a :class:`voxcontract.transcription.Transcriber`).

Media whose SHA-256 is listed in ``mockserver/fixtures/manifest.json`` gets exactly the manifest's text; any other
media gets text made from its content hash (about 2.5 words per second of audio). The same bytes and options always
give the same transcript, timestamps lie inside ``[0, duration]`` in order, and nothing is downloaded or random.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from voxcontract.media import probe
from voxcontract.transcription import Segment, Transcript, TranscriptionOptions, Word

__all__ = ["FIXTURES_DIR", "DeterministicTranscriber", "ManifestEntry", "load_manifest"]

logger = logging.getLogger(__name__)

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"

WORDS_PER_SECOND = 2.5
MAX_SEGMENT_WORDS = 10
_MIN_SEGMENT_WORDS = 4
_WORD_GAP_SHARE = 0.1  # of each word's slot, left silent, so words never touch
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _word_list(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_VOCABULARY: dict[str, tuple[str, ...]] = {
    "en": _word_list(
        """
        the a and to of in that it we you this for on with as is was be have are they at our from not but what
        all so can will about more time people today project team data voice call meeting plan week customer
        question answer report budget update review next start good great thanks right order number system
        """
    ),
    "fr": _word_list(
        """
        le la les un une et de du des à en que qui nous vous il elle est sont pour avec dans sur pas plus
        temps équipe projet réunion client question réponse rapport semaine prochaine bonjour merci voilà bien
        """
    ),
}


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """A fixture whose transcript is known in advance."""

    file: str
    sha256: str
    text: str
    language: str = "en"


def load_manifest(path: Path = FIXTURES_DIR / "manifest.json") -> dict[str, ManifestEntry]:
    """The fixtures by SHA-256 (lower-case hex); empty when the manifest is missing or unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable fixture manifest %s: %s", path, exc)
        return {}
    return {entry.sha256: entry for entry in _entries(raw, path)}


def _entries(raw: object, path: Path) -> Iterable[ManifestEntry]:
    for item in raw if isinstance(raw, list) else []:
        try:
            yield ManifestEntry(
                file=str(item["file"]),
                sha256=str(item["sha256"]).lower(),
                text=str(item["text"]),
                language=str(item.get("language", "en")),
            )
        except (KeyError, TypeError):
            logger.warning("ignoring a malformed entry of %s: %r", path, item)


class DeterministicTranscriber:
    """Transcripts from the fixture manifest, or made up from the media's hash; no model, no randomness."""

    def __init__(self, manifest: Mapping[str, ManifestEntry] | None = None) -> None:
        self.manifest = dict(load_manifest() if manifest is None else manifest)

    def transcribe(self, media: Path, options: TranscriptionOptions, duration: float | None = None) -> Transcript:
        """Transcribe ``media``, probing it for its duration unless the caller knows it already (an upload was
        probed when it was stored: ``UnsupportedMedia`` if undecodable)."""
        digest = _file_sha256(media)
        return self.transcribe_digest(digest, probe(media).duration_seconds if duration is None else duration, options)

    def transcribe_digest(self, digest: str, duration: float, options: TranscriptionOptions) -> Transcript:
        """The transcript of media with SHA-256 ``digest`` lasting ``duration`` seconds."""
        # One stream per concern, so that asking for other options never changes the words or the timings.
        entry = self.manifest.get(digest)
        language, probability = _language(options.language, entry, random.Random(f"{digest}:language"))
        if entry:
            sentences = _sentences(entry.text)
        else:
            sentences = _invented_sentences(language, duration, random.Random(f"{digest}:text"))
        segments = _timed_segments(sentences, duration, options, random.Random(f"{digest}:words"))
        text = " ".join(" ".join(words) for words in sentences)
        kept = () if options.timestamps == "none" else segments
        return Transcript(text, language, probability, round(duration, 3), kept)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _language(asked: str, entry: ManifestEntry | None, rng: random.Random) -> tuple[str, float]:
    if asked != "auto":
        return asked, 1.0
    detected = entry.language if entry else "en"
    return detected, round(rng.uniform(0.8, 0.999), 3)


def _sentences(text: str) -> list[list[str]]:
    return [sentence.split() for sentence in _SENTENCE_END.split(text.strip()) if sentence.split()]


def _invented_sentences(language: str, duration: float, rng: random.Random) -> list[list[str]]:
    vocabulary = _VOCABULARY.get(language, _VOCABULARY["en"])
    remaining = max(1, round(WORDS_PER_SECOND * duration))
    sentences = []
    while remaining:
        size = min(remaining, rng.randint(_MIN_SEGMENT_WORDS, MAX_SEGMENT_WORDS))
        words = [rng.choice(vocabulary) for _ in range(size)]
        words[0] = words[0].capitalize()
        words[-1] += "."
        sentences.append(words)
        remaining -= size
    return sentences


def _timed_segments(
    sentences: Sequence[Sequence[str]], duration: float, options: TranscriptionOptions, rng: random.Random
) -> tuple[Segment, ...]:
    """Every word gets an equal slot of the media; a segment spans its words."""
    slot = duration / max(1, sum(len(words) for words in sentences))
    speakers = options.speakers_expected or 2
    segments = []
    index = 0
    for number, sentence in enumerate(sentences):
        words = tuple(_timed_word(word, index + offset, slot, duration, rng) for offset, word in enumerate(sentence))
        index += len(sentence)
        segments.append(
            Segment(
                id=number,
                start=words[0].start,
                end=words[-1].end,
                text=" ".join(sentence),
                speaker=f"SPEAKER_{number % speakers + 1}" if options.diarization else None,
                words=words if options.timestamps == "word" else None,
            )
        )
    return tuple(segments)


def _timed_word(word: str, index: int, slot: float, duration: float, rng: random.Random) -> Word:
    start = round(index * slot + _WORD_GAP_SHARE / 2 * slot, 3)
    end = min(round((index + 1) * slot - _WORD_GAP_SHARE / 2 * slot, 3), round(duration, 3))
    return Word(word=word, start=start, end=max(start, end), probability=round(rng.uniform(0.6, 1.0), 3))
