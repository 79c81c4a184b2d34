"""Streamed decoding (reference_impl.audio): the same samples as faster-whisper's whole-file decoding, in chunks;
windows cut at quiet points; excerpts by sample range; the stop check per packet; the limits."""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from faster_whisper import decode_audio

from reference_impl.audio import SAMPLE_RATE, Samples, excerpts, open_audio, windows
from voxcontract.errors import MediaTooLong, UnsupportedMedia

FIXTURES = Path(__file__).parents[2] / "mockserver" / "fixtures"
MANIFEST: list[dict[str, Any]] = json.loads((FIXTURES / "manifest.json").read_text())


class Stop(Exception):
    pass


def decoded(path: Path, **options: Any) -> Samples:
    with open_audio(path, **options) as audio:
        return np.concatenate(list(audio.chunks()))


def tone(seconds: float, gaps: tuple[tuple[float, float], ...] = ()) -> Samples:
    """A 440 Hz tone at 16 kHz with silent ``(start, end)`` gaps."""
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE)).astype(np.float32)
    for start, end in gaps:
        samples[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)] = 0
    return samples


def in_chunks(samples: Samples, size: int = 4000) -> list[Samples]:
    return [samples[start : start + size] for start in range(0, len(samples), size)]


def write_wav(path: Path, samples: Samples, rate: int = SAMPLE_RATE) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype("<i2").tobytes())
    return path


def adts_tone(path: Path, rate: int, seconds: float) -> bytes:
    with av.open(str(path), "w", format="adts") as out:
        stream: Any = out.add_stream("aac", rate=rate)
        stream.layout = "mono"
        data = (np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate) * 10000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return path.read_bytes()


# Decoding


@pytest.mark.parametrize("entry", MANIFEST, ids=[entry["file"] for entry in MANIFEST])
def test_the_samples_are_faster_whispers_own_in_chunks_of_a_second(entry: dict[str, Any]) -> None:
    with open_audio(FIXTURES / entry["file"]) as audio:
        chunks = list(audio.chunks())
        assert audio.decoded_samples == sum(len(chunk) for chunk in chunks)
    assert all(len(chunk) >= SAMPLE_RATE for chunk in chunks[:-1])
    assert all(chunk.dtype == np.float32 for chunk in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), decode_audio(str(FIXTURES / entry["file"])))


def test_the_stop_check_runs_for_every_packet_and_stops_decoding() -> None:
    calls = 0

    def check() -> None:
        nonlocal calls
        calls += 1
        if calls == 20:
            raise Stop()

    with open_audio(FIXTURES / "meeting.ogg") as audio, pytest.raises(Stop):
        for _ in audio.chunks(check):
            pass
    assert 0 < audio.decoded_seconds < 5.7  # stopped before the end


def test_decoding_stops_past_the_maximum_duration() -> None:
    with open_audio(FIXTURES / "hello.wav", max_seconds=2.0) as audio:
        with pytest.raises(MediaTooLong, match="more than the 2 s"):
            list(audio.chunks())
        assert audio.decoded_seconds < 3.1  # a chunk past the limit, not the whole file


def test_a_header_sample_rate_below_speech_is_unsupported(tmp_path: Path) -> None:
    lying = write_wav(tmp_path / "8hz.wav", tone(1.0), rate=8)  # 16,000 samples "at 8 Hz": 2,000 s once resampled
    with pytest.raises(UnsupportedMedia, match="8 Hz"):
        decoded(lying)


def test_a_sample_rate_change_midstream_is_decoded(tmp_path: Path) -> None:
    # faster-whisper's decode_audio raises ValueError ("Frame does not match AudioFifo parameters") on this.
    joined = tmp_path / "joined.aac"
    joined.write_bytes(adts_tone(tmp_path / "a.aac", 22050, 2.0) + adts_tone(tmp_path / "b.aac", 16000, 2.0))
    assert len(decoded(joined)) / SAMPLE_RATE == pytest.approx(4.0, abs=0.25)


@pytest.mark.parametrize("content", [b"this is not media at all" * 20, b""], ids=["garbage", "empty"])
def test_undecodable_media_is_unsupported(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "upload.bin").write_bytes(content)
    with pytest.raises(UnsupportedMedia):
        decoded(tmp_path / "upload.bin")


def test_media_without_audio_samples_is_unsupported(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="no decodable audio"):
        decoded(write_wav(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32)))


# Windows


def test_windows_are_cut_in_the_quietest_frame_near_the_nominal_end() -> None:
    audio = tone(100.0, gaps=((33.0, 33.2), (58.1, 58.3), (91.0, 92.0)))
    cut = list(windows(in_chunks(audio), window_seconds=30, search_seconds=5))
    ends = [window.end_seconds for window in cut]
    assert ends[:2] == [pytest.approx(33.1, abs=0.1), pytest.approx(58.2, abs=0.1)]
    assert [window.start for window in cut[1:]] == [window.start + len(window.samples) for window in cut[:-1]]
    np.testing.assert_array_equal(np.concatenate([window.samples for window in cut]), audio)


def test_a_pause_between_sentences_wins_over_the_gaps_between_words() -> None:
    """espeak-ng (and studio speech) leave digital silence between words: as quiet as any pause, but short."""
    word_gaps = tuple((start, start + 0.06) for start in np.arange(20.0, 40.0, 0.5))
    audio = tone(60.0, gaps=(*word_gaps, (34.6, 35.0)))
    first = next(windows(in_chunks(audio), window_seconds=30, search_seconds=7.5))
    assert 34.6 <= first.end_seconds <= 35.0


def test_the_last_window_is_never_a_sliver() -> None:
    for seconds in (10.0, 40.0, 52.0, 66.0, 180.5):
        cut = list(windows(in_chunks(tone(seconds)), window_seconds=30, search_seconds=5))
        assert all(len(window.samples) >= 15 * SAMPLE_RATE for window in cut) or len(cut) == 1
        assert all(len(window.samples) <= 52.5 * SAMPLE_RATE for window in cut)
        assert sum(len(window.samples) for window in cut) == round(seconds * SAMPLE_RATE)


# Excerpts


def test_excerpts_are_the_spans_samples_as_soon_as_they_have_passed() -> None:
    audio = np.arange(100_000, dtype=np.float32)
    spans = [(5_000, 9_000), (1_000, 60_000), (30_000, 31_000), (99_000, 100_000)]
    got = dict(excerpts(in_chunks(audio, 7_000), spans))
    assert set(got) == {0, 1, 2, 3}
    for index, (start, stop) in enumerate(spans):
        np.testing.assert_array_equal(got[index], audio[start:stop])
    assert [index for index, _ in excerpts(in_chunks(audio, 7_000), spans)] == [0, 2, 1, 3]  # by end


def test_an_excerpt_past_the_end_is_moved_back_inside_the_audio() -> None:
    audio = np.arange(50_000, dtype=np.float32)
    got = dict(excerpts(in_chunks(audio), [(45_000, 69_000), (0, 80_000)]))
    np.testing.assert_array_equal(got[0], audio[26_000:])
    np.testing.assert_array_equal(got[1], audio)  # longer than the audio: all of it
