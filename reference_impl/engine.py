"""The reference server's engine: faster-whisper behind voxcontract's :class:`Transcriber` protocol.

One model per worker process: models are loaded lazily, once, and cached by (path, device, compute type, threads),
so every :class:`WhisperTranscriber` a process makes with the same settings shares one ``WhisperModel``.

Diarization is not this engine's job: with ``options.diarization`` set, segments still carry ``speaker=None`` and
the server labels speakers in a separate step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import av

from reference_impl.models import is_multilingual, model_languages, resolve_model
from voxcontract.errors import UnprocessableEntity, UnsupportedMedia
from voxcontract.transcription import Segment, Transcript, TranscriptionOptions, Word

__all__ = ["Progress", "WhisperTranscriber", "resolve_compute_type", "resolve_device"]

#: Called with the fraction of the work done, from 0 to 1.
Progress = Callable[[float], None]

logger = logging.getLogger(__name__)

_ModelKey = tuple[str, str, str, int, int]
_models: dict[_ModelKey, Any] = {}
_models_lock = threading.Lock()
_MULTILINGUAL_HINT = (
    "for other languages, install the multilingual extra (pip install 'voxcontract[multilingual]') "
    "and start the server with --model base"
)


def resolve_device(device: str) -> str:
    """``"auto"`` → ``"cuda"`` when CTranslate2 sees a GPU, else ``"cpu"``; anything else unchanged."""
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


def resolve_compute_type(compute_type: str, device: str) -> str:
    """``"auto"`` → ``"float16"`` on CUDA, ``"int8"`` on CPU; anything else unchanged."""
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


def _load_model(key: _ModelKey) -> Any:
    with _models_lock:
        if key not in _models:
            from faster_whisper import WhisperModel

            path, device, compute_type, cpu_threads, num_workers = key
            logger.info("loading Whisper model %s on %s (%s)", path, device, compute_type)
            _models[key] = WhisperModel(
                path, device=device, compute_type=compute_type, cpu_threads=cpu_threads, num_workers=num_workers
            )
        return _models[key]


class WhisperTranscriber:
    """Transcribes media with a CTranslate2 Whisper model (default: the bundled tiny.en).

    ``data_dir`` is where ``model="base"`` (the multilingual extra) is assembled on first use.
    """

    def __init__(
        self,
        model: str | Path | None = None,
        *,
        data_dir: str | Path | None = None,
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        num_workers: int = 1,
        beam_size: int = 5,
        vad_filter: bool = True,
    ) -> None:
        self.model_path = resolve_model(model, data_dir)
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.device)
        self.cpu_threads = cpu_threads
        #: Transcriptions the one model runs in parallel (CTranslate2 workers): a process's job threads.
        self.num_workers = max(num_workers, 1)
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.multilingual = is_multilingual(self.model_path)

    @property
    def model(self) -> Any:
        """The ``faster_whisper.WhisperModel``, loaded on first use and shared within the process."""
        return _load_model((str(self.model_path), self.device, self.compute_type, self.cpu_threads, self.num_workers))

    def supported_languages(self) -> frozenset[str]:
        """Language codes this model transcribes (``{"en"}`` for an English-only model)."""
        return model_languages(self.model_path)

    def check_language(self, language: str) -> None:
        """Raise a 422 ``language_not_supported`` unless ``language`` is ``"auto"`` or one the model knows."""
        if language == "auto" or language in self.supported_languages():
            return
        if not self.multilingual:
            raise UnprocessableEntity(
                f"language {language!r} is not supported: the model is English-only; {_MULTILINGUAL_HINT}"
            )
        raise UnprocessableEntity(f"language {language!r} is not supported by the model")

    def transcribe(self, media: Path, options: TranscriptionOptions, progress: Progress | None = None) -> Transcript:
        """Transcribe ``media``; raise ``UnsupportedMedia`` when it cannot be decoded.

        ``progress`` is called with the fraction of the audio done (0..1) as segments are decoded.
        """
        self.check_language(options.language)
        try:
            raw_segments, info = self._run(media, options, progress)
        except (av.error.FFmpegError, IndexError) as exc:
            # The decoder's message names server-side paths: log it, answer a plain detail.
            logger.info("undecodable media %s: %r", media, exc)
            raise UnsupportedMedia("the media could not be decoded as audio") from exc
        duration = max(float(info.duration), 0.0)
        segments = tuple(_segment(index, raw, duration) for index, raw in enumerate(raw_segments))
        return Transcript(
            text=" ".join(segment.text for segment in segments if segment.text),
            language=str(info.language),
            language_probability=min(max(float(info.language_probability), 0.0), 1.0),
            duration_seconds=duration,
            segments=segments if options.timestamps != "none" else (),
        )

    def decoding_language(self, language: str) -> str | None:
        """The language to decode in: ``None`` lets a multilingual model detect it; English-only models hear English."""
        if language != "auto":
            return language
        return None if self.multilingual else "en"

    def _run(self, media: Path, options: TranscriptionOptions, progress: Progress | None) -> tuple[list[Any], Any]:
        generator, info = self.model.transcribe(
            str(media),
            language=self.decoding_language(options.language),
            beam_size=self.beam_size,
            vad_filter=self.vad_filter,
            word_timestamps=options.timestamps == "word",
        )
        # faster-whisper decodes lazily: iterate here so decoding errors surface inside the try.
        segments = []
        for segment in generator:
            segments.append(segment)
            if progress is not None and info.duration > 0:
                progress(min(float(segment.end) / float(info.duration), 1.0))
        return segments, info


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(float(value), low), high)


def _segment(index: int, raw: Any, duration: float) -> Segment:
    start = _clamp(raw.start, 0.0, duration)
    end = _clamp(raw.end, start, duration)
    words = None if raw.words is None else _words(raw.words, start, end)
    return Segment(id=index, start=start, end=end, text=str(raw.text).strip(), words=words)


def _words(raw_words: Iterable[Any], low: float, high: float) -> tuple[Word, ...]:
    words = []
    for raw in raw_words:
        start = _clamp(raw.start, low, high)
        end = _clamp(raw.end, start, high)
        words.append(Word(word=str(raw.word).strip(), start=start, end=end, probability=_clamp(raw.probability, 0, 1)))
    return tuple(words)
