"""Speaker diarization for the reference server: who speaks each transcript segment.

Each segment's audio (16 kHz mono, widened around its centre when short) is embedded with resemblyzer's voice
encoder as soon as the streamed decoding (:mod:`reference_impl.audio`) has passed it, so memory is one segment's
audio, not the media's; the embeddings are clustered bottom-up (average linkage on cosine distance), cut at the
expected number of speakers or, without one, where clusters are further apart than a distance threshold. Speakers
are named ``SPEAKER_1``, ``SPEAKER_2``, ... in order of first appearance.

The encoder (torch, resemblyzer, webrtcvad) is the optional ``diarization`` extra: without it,
:meth:`SpeakerDiarizer.label` raises :class:`~voxcontract.errors.DiarizationUnavailable`. Like the Whisper model, the
encoder is loaded lazily, once per process.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from reference_impl.audio import SAMPLE_RATE, excerpts, open_audio
from voxcontract.errors import DiarizationUnavailable
from voxcontract.media import MediaSource
from voxcontract.transcription import Segment, Transcript

__all__ = [
    "DEFAULT_THRESHOLD",
    "DIARIZATION_HINT",
    "SpeakerDiarizer",
    "cluster_embeddings",
    "diarization_available",
    "fill_gaps",
]

logger = logging.getLogger(__name__)

DIARIZATION_HINT = "install the diarization extra: pip install 'voxcontract[diarization]' (see README)"
# Cosine distance between clusters (average linkage) above which they are different speakers. Measured on the
# espeak-ng dialogue of tests/reference_impl/dialogue.py: segments of one voice merge at 0.06-0.13 (similarity
# 0.86-0.94), the two voices' clusters stand 0.33 apart (similarity 0.64-0.69); the default lies midway.
DEFAULT_THRESHOLD = 0.23
# The encoder looks at 1.6 s windows; shorter segments are widened around their centre to this length.
MIN_WINDOW_SECONDS = 1.5
# Less voiced audio than this (after resemblyzer trims silences) gives no usable embedding.
MIN_VOICED_SECONDS = 0.2
SILENCE_RMS = 1e-4
_MODULES = ("resemblyzer", "torch", "scipy")

Audio = npt.NDArray[np.float32]
Embedding = npt.NDArray[np.float32]
#: Called with the fraction of the segments embedded; whatever it raises stops the work (a cancelled job).
Progress = Callable[[float], None]
_encoder: Any = None
_encoder_lock = threading.Lock()


@functools.cache
def diarization_available() -> bool:
    """Whether the ``diarization`` extra is installed; the answer is cached.

    Cheap on purpose (milliseconds, nothing heavy loaded): every API process and worker asks at start-up, and importing
    torch and librosa would cost each of them a second and 250 MB. So resemblyzer, torch and scipy are only looked
    up; webrtcvad, the one a bad install breaks (see ./dev's repair_webrtcvad), is imported. The real import happens
    on first use, and its failure is a :class:`~voxcontract.errors.DiarizationUnavailable` too.
    """
    missing = [name for name in _MODULES if importlib.util.find_spec(name) is None]
    try:
        import webrtcvad  # noqa: F401
    except ImportError as exc:
        missing.append(f"webrtcvad ({exc})")
    if missing:
        logger.info("speaker diarization unavailable, missing: %s", ", ".join(missing))
    return not missing


def _require_diarization() -> None:
    if not diarization_available():
        raise DiarizationUnavailable(f"speaker diarization is not available on this server; {DIARIZATION_HINT}")


def _load_encoder() -> Any:
    global _encoder
    with _encoder_lock:
        if _encoder is None:
            logger.info("loading the resemblyzer voice encoder on cpu")
            _encoder = _import_resemblyzer().VoiceEncoder("cpu", verbose=False)
        return _encoder


def _import_resemblyzer() -> Any:
    try:
        with warnings.catch_warnings():
            # resemblyzer 0.1.4 imports binary_dilation from a scipy namespace deprecated since 1.8 (still there).
            warnings.filterwarnings("ignore", "Please import `binary_dilation`", DeprecationWarning)
            import resemblyzer
    except (ImportError, OSError) as exc:
        logger.warning("resemblyzer does not import: %r", exc)
        raise DiarizationUnavailable(f"speaker diarization does not load on this server; {DIARIZATION_HINT}") from exc
    return resemblyzer


class SpeakerDiarizer:
    """Labels transcript segments with speakers (resemblyzer embeddings, agglomerative clustering)."""

    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD, min_window_seconds: float = MIN_WINDOW_SECONDS) -> None:
        self.threshold = threshold
        self.min_window_seconds = min_window_seconds

    def label(
        self,
        media: MediaSource,
        transcript: Transcript,
        speakers_expected: int | None = None,
        progress: Progress | None = None,
    ) -> Transcript:
        """``transcript`` with every segment's ``speaker`` set; raise ``DiarizationUnavailable`` without the extra."""
        _require_diarization()
        if not transcript.segments:
            return transcript
        segments = transcript.segments
        ids = [0] if len(segments) == 1 else self._speaker_ids(media, segments, speakers_expected, progress)
        segments = tuple(
            dataclasses.replace(segment, speaker=f"SPEAKER_{speaker + 1}")
            for segment, speaker in zip(transcript.segments, ids, strict=True)
        )
        return dataclasses.replace(transcript, segments=segments)

    def embed(
        self, media: MediaSource, segments: Sequence[Segment], progress: Progress | None = None
    ) -> list[Embedding | None]:
        """One voice embedding per segment, ``None`` where the segment has no usable audio; ``progress`` is called
        for every decoded packet and every segment embedded."""
        _require_diarization()
        encoder = _load_encoder()
        embeddings: list[Embedding | None] = [None] * len(segments)
        done = 0

        def check() -> None:
            if progress is not None:
                progress(done / len(segments))

        with open_audio(media) as audio:
            spans = [self._span(segment) for segment in segments]
            for index, samples in excerpts(audio.chunks(check), spans):
                embeddings[index] = _embed(encoder, samples)
                done += 1
                check()
        return embeddings

    def _speaker_ids(
        self, media: MediaSource, segments: Sequence[Segment], speakers_expected: int | None, progress: Progress | None
    ) -> list[int]:
        embeddings = self.embed(media, segments, progress)
        usable = {index: embedding for index, embedding in enumerate(embeddings) if embedding is not None}
        if not usable:
            return [0] * len(segments)
        ids = cluster_embeddings(
            np.stack(list(usable.values())), speakers_expected=speakers_expected, threshold=self.threshold
        )
        speakers = dict(zip(usable, ids, strict=True))
        return _by_first_appearance(fill_gaps([speakers.get(index) for index in range(len(segments))]))

    def _span(self, segment: Segment) -> tuple[int, int]:
        """The segment's samples, widened symmetrically to the minimum window and shifted to start in the audio
        (:func:`excerpts` shifts a span past the end back inside)."""
        needed = round(max(segment.end - segment.start, self.min_window_seconds) * SAMPLE_RATE)
        centre = (segment.start + segment.end) / 2 * SAMPLE_RATE
        start = int(max(centre - needed / 2, 0))
        return start, start + needed


def _embed(encoder: Any, samples: Audio) -> Embedding | None:
    # resemblyzer's volume normalisation divides by the RMS: silence would come back as NaN.
    if samples.size == 0 or float(np.sqrt(np.mean(np.square(samples)))) < SILENCE_RMS:
        return None
    from resemblyzer import preprocess_wav

    voiced = preprocess_wav(samples)
    if len(voiced) < MIN_VOICED_SECONDS * SAMPLE_RATE:
        return None
    embedding = np.asarray(encoder.embed_utterance(voiced), dtype=np.float32)
    return embedding if bool(np.all(np.isfinite(embedding))) else None


def cluster_embeddings(
    embeddings: npt.NDArray[np.floating[Any]], *, speakers_expected: int | None = None, threshold: float
) -> list[int]:
    """Cluster ids (0, 1, ... by first appearance) for the rows of ``embeddings``.

    Average-linkage agglomerative clustering on cosine distance, cut into ``speakers_expected`` clusters (capped by
    the number of rows) or, without it, wherever clusters are more than ``threshold`` apart.
    """
    if len(embeddings) < 2:
        return [0] * len(embeddings)
    from scipy.cluster.hierarchy import fcluster, linkage

    tree = linkage(embeddings, method="average", metric="cosine")
    if speakers_expected is not None:
        ids = fcluster(tree, t=min(max(speakers_expected, 1), len(embeddings)), criterion="maxclust")
    else:
        ids = fcluster(tree, t=threshold, criterion="distance")
    return _by_first_appearance([int(cluster) for cluster in ids])


def fill_gaps(labels: Sequence[int | None]) -> list[int]:
    """Each ``None`` replaced by the nearest label (the earlier one on a tie); all ``None`` → all 0."""
    known = {index: label for index, label in enumerate(labels) if label is not None}
    if not known:
        return [0] * len(labels)
    return [known[min(known, key=lambda other: (abs(other - index), other))] for index in range(len(labels))]


def _by_first_appearance(ids: Sequence[int]) -> list[int]:
    order: dict[int, int] = {}
    return [order.setdefault(cluster, len(order)) for cluster in ids]
