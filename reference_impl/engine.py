"""The reference server's engine: faster-whisper behind voxcontract's :class:`Transcriber` protocol.

One model per worker process: models are loaded lazily, once, and cached by (path, device, compute type, threads),
so every :class:`WhisperTranscriber` a process makes with the same settings shares one ``WhisperModel``.

Media is transcribed window by window (:mod:`reference_impl.audio`): decoded as a stream, cut into windows of about
30 s at quiet points, each window given to faster-whisper as an array, and the segments stitched with the window's
time offset. Memory is the model plus a few windows, whatever the media's length (faster-whisper given a path
decodes the whole file into one array: about 1 GB per hour at the peak). The language of a multilingual model is
detected on the first window with speech and kept for the rest. A window is not prompted with the previous one's
text (Whisper conditions on it inside a file): Whisper then skips words at the window's start, 8.4 % WER against
5.9 % without on 20 min of espeak-ng speech.

``progress`` is also the stop signal: it is called with the fraction done for every decoded packet, before every
call into the CTranslate2 model (a few per 30 s of audio) and for every segment, and whatever it raises ends the
transcription there. A job deleted or past its deadline is thus stopped within about a second whatever the audio:
silence and noise produce no segments, but they are still decoded and still reach the model.

Diarization is not this engine's job: with ``options.diarization`` set, segments still carry ``speaker=None`` and
the server labels speakers in a separate step.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reference_impl.audio import AudioStream, Window, open_audio, windows
from reference_impl.models import is_multilingual, model_languages, resolve_model
from voxcontract.errors import LanguageNotSupported
from voxcontract.media import MediaSource
from voxcontract.transcription import Segment, Transcript, TranscriptionOptions, Word

__all__ = ["WINDOW_SECONDS", "Progress", "WhisperTranscriber", "resolve_compute_type", "resolve_device"]

#: Called with the fraction of the work done, from 0 to 1; whatever it raises stops the work (see the module doc).
Progress = Callable[[float], None]

logger = logging.getLogger(__name__)

#: The nominal window, one Whisper input; memory is a few MB. WER against the spoken text, 1 h of espeak-ng speech
#: (tiny.en): windows of 30 s 6.6 %, 60 s 6.8 %, 120 s 6.3 %, the whole file 5.3 % (10 min: 6.7 % against 7.3 %).
#: The size matters little; shorter windows reset Whisper's context (and its repetition loops) more often.
WINDOW_SECONDS = 30.0
#: A window is cut at the quietest point within this many seconds of its nominal end (at most a quarter window).
CUT_SEARCH_SECONDS = 7.5

_ModelKey = tuple[str, str, str, int, int]
_models: dict[_ModelKey, Any] = {}
_models_lock = threading.Lock()
_MULTILINGUAL_HINT = (
    "for other languages, install the multilingual extra (pip install 'voxcontract[multilingual]') "
    "and start the server with --model base"
)
#: The stop check of the transcription running on this thread (the model is shared by a process's job threads).
_running = threading.local()


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
            model = WhisperModel(
                path, device=device, compute_type=compute_type, cpu_threads=cpu_threads, num_workers=num_workers
            )
            model.model = _StoppableModel(model.model)
            _models[key] = model
        return _models[key]


class _StoppableModel:
    """The CTranslate2 model inside a ``WhisperModel``, with the running transcription's stop check before each of
    its calls: faster-whisper yields nothing while it decodes audio without speech (every temperature of its
    fallback on noise: 5 s per 30 s on tiny.en, 2 cores), so its segments alone cannot be where a job stops."""

    def __init__(self, model: Any) -> None:
        self._model = model

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        _check_running()
        return self._model.encode(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        _check_running()
        return self._model.generate(*args, **kwargs)

    def detect_language(self, *args: Any, **kwargs: Any) -> Any:
        _check_running()
        return self._model.detect_language(*args, **kwargs)

    def align(self, *args: Any, **kwargs: Any) -> Any:
        _check_running()
        return self._model.align(*args, **kwargs)


def _check_running() -> None:
    check: Callable[[], None] | None = getattr(_running, "check", None)
    if check is not None:
        check()


@contextlib.contextmanager
def _stop_check_in_model_calls(check: Callable[[], None]) -> Iterator[None]:
    _running.check = check
    try:
        yield
    finally:
        _running.check = None


class WhisperTranscriber:
    """Transcribes media with a CTranslate2 Whisper model (default: the bundled tiny.en), window by window.

    ``data_dir`` is where ``model="base"`` (the multilingual extra) is assembled on first use. Media decoding past
    ``max_media_seconds`` stops with ``media_too_long`` (the upload probe refuses such media first: this is the
    defence in depth against a header that lied).
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
        max_media_seconds: float = math.inf,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        self.model_path = resolve_model(model, data_dir)
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.device)
        self.cpu_threads = cpu_threads
        #: Transcriptions the one model runs in parallel (CTranslate2 workers): a process's job threads.
        self.num_workers = max(num_workers, 1)
        self.beam_size = beam_size
        self.vad_filter = vad_filter
        self.max_media_seconds = max_media_seconds
        self.window_seconds = window_seconds
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
            raise LanguageNotSupported(
                f"language {language!r} is not supported: the model is English-only; {_MULTILINGUAL_HINT}"
            )
        raise LanguageNotSupported(f"language {language!r} is not supported by the model")

    def decoding_language(self, language: str) -> str | None:
        """The language to decode in: ``None`` lets a multilingual model detect it; English-only models hear English."""
        if language != "auto":
            return language
        return None if self.multilingual else "en"

    def transcribe(
        self, media: MediaSource, options: TranscriptionOptions, progress: Progress | None = None
    ) -> Transcript:
        """Transcribe ``media``; raise ``UnsupportedMedia`` when it cannot be decoded, ``MediaTooLong`` past
        ``max_media_seconds``, and whatever ``progress`` raises (see the module doc)."""
        self.check_language(options.language)
        with open_audio(media, max_seconds=self.max_media_seconds) as audio:
            tracker = _Tracker(progress, audio.claimed_seconds or 0.0)
            with _stop_check_in_model_calls(tracker.check):
                stitched = self._transcribe_windows(audio, options, tracker)
            duration = audio.decoded_seconds
        language, probability = stitched.language(self.decoding_language(options.language))
        return Transcript(
            text=" ".join(segment.text for segment in stitched.segments if segment.text),
            language=language,
            language_probability=min(max(probability, 0.0), 1.0),
            duration_seconds=duration,
            segments=tuple(stitched.segments) if options.timestamps != "none" else (),
        )

    def _transcribe_windows(self, audio: AudioStream, options: TranscriptionOptions, tracker: _Tracker) -> _Stitched:
        stitched = _Stitched()
        fixed_language = self.decoding_language(options.language)
        search = min(CUT_SEARCH_SECONDS, self.window_seconds / 4)
        for window in windows(audio.chunks(tracker.check), window_seconds=self.window_seconds, search_seconds=search):
            tracker.reach(window.start_seconds)
            raw_segments, info = self.model.transcribe(
                window.samples,
                language=fixed_language or stitched.detected_language,
                beam_size=self.beam_size,
                vad_filter=self.vad_filter,
                word_timestamps=options.timestamps == "word",
            )
            stitched.add_window(window, _reported(raw_segments, window, tracker), info)
        return stitched


@dataclass
class _Tracker:
    """The fraction of the media done, reported to ``progress`` at every check. Measured against the length the
    header claims: an estimate for progress (0 without a claim), nothing else."""

    progress: Progress | None
    claimed_seconds: float
    done_seconds: float = 0.0

    def reach(self, seconds: float) -> None:
        self.done_seconds = max(self.done_seconds, seconds)
        self.check()

    def check(self) -> None:
        if self.progress is not None:
            fraction = self.done_seconds / self.claimed_seconds if self.claimed_seconds > 0 else 0.0
            self.progress(min(fraction, 1.0))


def _reported(raw_segments: Iterable[Any], window: Window, tracker: _Tracker) -> Iterator[Any]:
    """faster-whisper's lazy segments, the end of each reported as progress (the work happens while iterating)."""
    for raw in raw_segments:
        tracker.reach(window.start_seconds + float(raw.end))
        yield raw


@dataclass
class _Stitched:
    """Segments of consecutive windows, renumbered and moved to the media's time; the language detected."""

    segments: list[Segment] = field(default_factory=list)
    #: (language, probability) detected on the first window with speech, else on the first window.
    detection: tuple[str, float] | None = None
    detected_language: str | None = None

    def add_window(self, window: Window, raw_segments: Iterable[Any], info: Any) -> None:
        first = len(self.segments)
        for raw in raw_segments:
            self.segments.append(_segment(len(self.segments), raw, window))
        spoken = any(segment.text for segment in self.segments[first:])
        if self.detected_language is None and (spoken or self.detection is None):
            self.detection = (str(info.language), float(info.language_probability))
            if spoken:
                self.detected_language = str(info.language)

    def language(self, fixed: str | None) -> tuple[str, float]:
        """The transcript's language and its probability (1 when it was given, or the model knows only one)."""
        if fixed is not None:
            return fixed, 1.0
        language, probability = self.detection or ("en", 0.0)
        return str(language), float(probability)


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(float(value), low), high)


def _segment(index: int, raw: Any, window: Window) -> Segment:
    """A faster-whisper segment of ``window`` in the media's time, inside the window."""
    low, high, offset = window.start_seconds, window.end_seconds, window.start_seconds
    start = _clamp(offset + raw.start, low, high)
    end = _clamp(offset + raw.end, start, high)
    words = None if raw.words is None else _words(raw.words, offset, start, end)
    return Segment(id=index, start=start, end=end, text=str(raw.text).strip(), words=words)


def _words(raw_words: Iterable[Any], offset: float, low: float, high: float) -> tuple[Word, ...]:
    words = []
    for raw in raw_words:
        start = _clamp(offset + raw.start, low, high)
        end = _clamp(offset + raw.end, start, high)
        words.append(Word(word=str(raw.word).strip(), start=start, end=end, probability=_clamp(raw.probability, 0, 1)))
    return tuple(words)
