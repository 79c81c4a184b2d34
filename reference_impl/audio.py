"""Streamed audio for the engine and diarization: media decoded piece by piece, never whole.

:func:`open_audio` decodes a media file's first audio stream with PyAV and resamples it to mono 16 kHz float32, the
way faster-whisper's ``decode_audio`` does (through signed 16-bit, so the samples are the same), but yields it in
chunks of about a second instead of building one array of the whole file: an hour of audio is 230 MB as one
float32 array, and a 136 KB file whose header claims 8 Hz expands to gigabytes. :func:`windows` cuts the chunks
into windows of about ``window_seconds``, each cut in the quietest half second near the nominal boundary so that no
word is split; :func:`excerpts` picks given sample ranges out of the chunks as they pass. Memory stays a few windows'
worth whatever the media's length.

A ``checkpoint`` callable is called for every decoded packet: it may raise to stop the work (a cancelled or
overdue job), so decoding stops within milliseconds however long the media is.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt

from voxcontract.errors import MediaTooLong, UnsupportedMedia
from voxcontract.media import MIN_SAMPLE_RATE, MediaSource, open_container, source_name

__all__ = ["SAMPLE_RATE", "AudioStream", "Samples", "Window", "excerpts", "open_audio", "windows"]

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
Samples = npt.NDArray[np.float32]
#: Called often while audio is decoded; raises to stop.
Checkpoint = Callable[[], None]
#: Decoded samples are handed on in chunks of at least this many (one second).
CHUNK_SAMPLES = SAMPLE_RATE
#: A window is cut in the middle of a 20 ms frame (longer than a pitch period: never a low point inside a vowel)...
CUT_FRAME_SAMPLES = SAMPLE_RATE // 50
#: ... at the centre of the quietest half second: a pause between sentences, not the gap between two words, which
#: synthetic and studio speech make as silent as any pause (cutting in the quietest 20 ms alone split "one | by one").
QUIET_STRETCH_SAMPLES = SAMPLE_RATE // 2
_INT16_SCALE = np.float32(32768.0)


def _no_checkpoint() -> None:
    return None


class AudioStream:
    """The mono 16 kHz samples of one media file, decoded as they are read (see :func:`open_audio`)."""

    def __init__(self, container: av.container.InputContainer, *, max_seconds: float, name: str) -> None:
        self._container = container
        self._stream = container.streams.audio[0]
        self._max_samples = max_seconds * SAMPLE_RATE
        self._max_seconds = max_seconds
        self._name = name
        #: Samples decoded so far: the media's true length once the stream is exhausted.
        self.decoded_samples = 0

    @property
    def claimed_seconds(self) -> float | None:
        """The length the container's header claims: for progress estimates only, never trusted."""
        stream = self._stream
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        if self._container.duration is not None:
            return float(self._container.duration) / av.time_base
        return None

    @property
    def decoded_seconds(self) -> float:
        return self.decoded_samples / SAMPLE_RATE

    def chunks(self, checkpoint: Checkpoint = _no_checkpoint) -> Iterator[Samples]:
        """The samples in order, in chunks of about a second; ``checkpoint`` is called for every packet.

        Raises :class:`MediaTooLong` past ``max_seconds`` and :class:`UnsupportedMedia` when there is no audio.
        """
        pending: list[Samples] = []
        pending_samples = 0
        for piece in self._decoded(checkpoint):
            pending.append(piece)
            pending_samples += len(piece)
            self.decoded_samples += len(piece)
            if self.decoded_samples > self._max_samples:
                raise MediaTooLong(f"The media lasts more than the {self._max_seconds:.0f} s this deployment allows.")
            if pending_samples >= CHUNK_SAMPLES:
                yield np.concatenate(pending)
                pending, pending_samples = [], 0
        if pending_samples:
            yield np.concatenate(pending)
        if self.decoded_samples == 0:
            raise UnsupportedMedia("The media holds no decodable audio.")

    def _decoded(self, checkpoint: Checkpoint) -> Iterator[Samples]:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        source_format: tuple[str, str, int] | None = None
        for frame in self._frames(checkpoint):
            frame_format = (frame.format.name, frame.layout.name, frame.sample_rate)
            if frame_format != source_format:
                # A stream may change rate or layout midway; PyAV's resampler takes one input format only.
                if 0 < frame.sample_rate < MIN_SAMPLE_RATE:
                    raise UnsupportedMedia(f"The audio's sample rate ({frame.sample_rate} Hz) is not speech audio.")
                yield from _converted(resampler.resample(None))
                resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
                source_format = frame_format
            frame.pts = None  # samples are counted, not stamped: no timestamp checks in the resampler
            yield from _converted(resampler.resample(frame))
        yield from _converted(resampler.resample(None))

    def _frames(self, checkpoint: Checkpoint) -> Iterator[av.AudioFrame]:
        """Decoded frames; a packet the decoder rejects is skipped, a broken container ends the stream (as
        faster-whisper's own decoding does: what was decoded before is transcribed)."""
        try:
            for packet in self._container.demux(self._stream):
                checkpoint()
                try:
                    yield from packet.decode()
                except av.error.InvalidDataError:
                    logger.info("%s: an undecodable audio packet skipped", self._name)
        except av.error.FFmpegError as exc:
            logger.info("%s: the audio stream ends early: %s", self._name, exc)


def _converted(frames: Iterable[av.AudioFrame]) -> Iterator[Samples]:
    for frame in frames:
        yield frame.to_ndarray().reshape(-1).astype(np.float32) / _INT16_SCALE


@contextlib.contextmanager
def open_audio(media: MediaSource, *, max_seconds: float = math.inf) -> Iterator[AudioStream]:
    """The media's first audio stream, ready to decode; :class:`UnsupportedMedia` when there is none or the file
    is not media. A stream (an object store's media) is read from its start, as it is read: by ranges, never whole.
    The decoder's messages name server paths: they go to the log, not to the client."""
    try:
        container = open_container(media)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        logger.info("undecodable media %s: %r", source_name(media), exc)
        raise UnsupportedMedia("The media could not be decoded as audio.") from exc
    with container:
        if not container.streams.audio:
            raise UnsupportedMedia("The media has no audio stream.")
        yield AudioStream(container, max_seconds=max_seconds, name=source_name(media))


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of the audio: its first sample's index in the media, and its samples."""

    start: int
    samples: Samples

    @property
    def start_seconds(self) -> float:
        return self.start / SAMPLE_RATE

    @property
    def end_seconds(self) -> float:
        return (self.start + len(self.samples)) / SAMPLE_RATE


def windows(chunks: Iterable[Samples], *, window_seconds: float, search_seconds: float) -> Iterator[Window]:
    """The audio in consecutive windows of ``window_seconds`` ± ``search_seconds``, each cut at the quietest point
    (:func:`quietest_cut`) within ``search_seconds`` of the nominal boundary.

    A cut is only made once the window after it would hold at least ``window_seconds / 2``, so the last window is
    never a sliver (a second of audio alone gives Whisper little to go on): it is shorter than 1.5 windows plus
    ``search_seconds``.
    """
    nominal, search = round(window_seconds * SAMPLE_RATE), round(search_seconds * SAMPLE_RATE)
    needed = nominal + search + nominal // 2
    pending: list[Samples] = []
    pending_samples = start = 0
    for chunk in chunks:
        pending.append(chunk)
        pending_samples += len(chunk)
        if pending_samples < needed:
            continue
        buffered = np.concatenate(pending)
        while len(buffered) >= needed:
            cut = quietest_cut(buffered, nominal - search, nominal + search)
            yield Window(start, buffered[:cut])
            start, buffered = start + cut, buffered[cut:]
        pending, pending_samples = [buffered], len(buffered)
    if pending_samples:
        yield Window(start, np.concatenate(pending))


def quietest_cut(samples: Samples, low: int, high: int) -> int:
    """Where to cut ``samples`` between ``low`` and ``high``: the middle of the quietest 20 ms frame of the quietest
    half second (among equals, the one nearest the middle)."""
    frames = (high - low) // CUT_FRAME_SAMPLES
    if frames < 1:
        return high
    region = samples[low : low + frames * CUT_FRAME_SAMPLES].reshape(frames, CUT_FRAME_SAMPLES)
    energy = np.einsum("ij,ij->i", region, region, dtype=np.float64)
    width = min(QUIET_STRETCH_SAMPLES // CUT_FRAME_SAMPLES, frames)
    box = np.ones(width)
    # The mean over the neighbours there are: frames at the range's edges are not favoured by having fewer.
    stretch = np.convolve(energy, box, mode="same") / np.convolve(np.ones(frames), box, mode="same")
    centre = _nearest_minimum(stretch, frames // 2)
    first = max(centre - width // 2, 0)
    quietest = first + _nearest_minimum(energy[first : first + width], centre - first)
    return low + quietest * CUT_FRAME_SAMPLES + CUT_FRAME_SAMPLES // 2


def _nearest_minimum(values: npt.NDArray[np.float64], middle: int) -> int:
    """The index of the smallest value; among equals, the one nearest ``middle``."""
    return int(np.lexsort((np.abs(np.arange(len(values)) - middle), values))[0])


def excerpts(chunks: Iterable[Samples], spans: Sequence[tuple[int, int]]) -> Iterator[tuple[int, Samples]]:
    """``(index, samples)`` for every ``spans[index]`` (start, end sample), as soon as the chunks have passed its
    end, in order of end. A span that runs past the audio's end is moved back to end with it (it is cut only when
    the audio is shorter than the span). Only the audio from the earliest unfinished span on (and the last longest
    span's worth) is kept: memory is about the longest span, not the media."""
    longest = max((stop - start for start, stop in spans), default=0)
    waiting = sorted(range(len(spans)), key=lambda index: spans[index])
    buffer = _ChunkBuffer()
    for chunk in chunks:
        buffer.append(chunk)
        ready = [index for index in waiting if spans[index][1] <= buffer.end]
        for index in sorted(ready, key=lambda index: spans[index][1]):
            yield index, buffer.slice(*spans[index])
        waiting = [index for index in waiting if spans[index][1] > buffer.end]
        earliest = spans[waiting[0]][0] if waiting else buffer.end
        buffer.drop_before(min(earliest, buffer.end - longest))
    for index in sorted(waiting, key=lambda index: spans[index][1]):
        start, stop = spans[index]
        yield index, buffer.slice(max(buffer.end - (stop - start), 0), buffer.end)


class _ChunkBuffer:
    """Consecutive chunks of the audio from sample ``base`` to ``end``; chunks are dropped whole, and joined only
    for a slice (appending to one array would copy the whole buffer for every chunk)."""

    def __init__(self) -> None:
        self._chunks: collections.deque[Samples] = collections.deque()
        self.base = self.end = 0

    def append(self, chunk: Samples) -> None:
        self._chunks.append(chunk)
        self.end += len(chunk)

    def drop_before(self, sample: int) -> None:
        while self._chunks and self.base + len(self._chunks[0]) <= sample:
            self.base += len(self._chunks.popleft())

    def slice(self, start: int, stop: int) -> Samples:
        pieces, offset = [], self.base
        for chunk in self._chunks:
            low, high = max(start - offset, 0), min(stop - offset, len(chunk))
            if low < high:
                pieces.append(chunk[low:high])
            offset += len(chunk)
            if offset >= stop:
                break
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)
