"""PyAV probing of every container the contract lists, and refusal of what is not audio."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import pytest

from tests.media_factory import write_tone
from voxcontract import media
from voxcontract.errors import MediaTooLong, UnsupportedMedia
from voxcontract.media import MediaInfo, probe


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("a.wav", "audio/wav"),
        ("a.mp3", "audio/mpeg"),
        ("a.ogg", "audio/ogg"),
        ("a.flac", "audio/flac"),
        ("a.m4a", "audio/mp4"),
        ("a.webm", "audio/webm"),
    ],
)
def test_audio_containers_are_probed(tmp_path: Path, name: str, content_type: str) -> None:
    info = probe(write_tone(tmp_path / name, 1.5))
    assert info.content_type == content_type
    assert info.duration_seconds == pytest.approx(1.5, abs=0.1)
    assert not info.has_video


@pytest.mark.parametrize(
    ("name", "content_type"), [("v.mp4", "video/mp4"), ("v.mov", "video/mp4"), ("v.mkv", "video/x-matroska")]
)
def test_video_with_audio_is_accepted(tmp_path: Path, name: str, content_type: str) -> None:
    info = probe(write_tone(tmp_path / name, 1.0, video=True))
    assert info.has_video
    assert info.content_type == content_type
    assert info.duration_seconds == pytest.approx(1.0, abs=0.15)


def test_video_without_audio_is_refused(tmp_path: Path) -> None:
    import av

    path = tmp_path / "silent.mp4"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"  # type: ignore[union-attr]
        frame = av.VideoFrame(64, 48, "yuv420p")
        frame.pts = 0
        for packet in [*stream.encode(frame), *stream.encode(None)]:  # type: ignore[union-attr]
            container.mux(packet)
    with pytest.raises(UnsupportedMedia, match="no audio stream"):
        probe(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"not audio at all" * 64, b"RIFF\x00\x00\x00\x00WAVEfmt ", b"\xff\xfb\x90\x00" + b"\x00" * 10, b"%PDF-1.7\n"],
)
def test_undecodable_bytes_are_unsupported_media(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(content)
    with pytest.raises(UnsupportedMedia) as caught:
        probe(path)
    assert caught.value.status == 400
    assert caught.value.code == "unsupported_media"


def test_a_truncated_recording_is_refused_or_shorter(tmp_path: Path) -> None:
    whole = write_tone(tmp_path / "a.mp3", 2.0).read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole[: len(whole) // 3])
    try:
        info = probe(cut)
    except UnsupportedMedia:
        return
    assert 0 < info.duration_seconds <= 2.1


def _wav_claiming(path: Path, sample_rate: int, data_bytes: int) -> Path:
    """A WAV whose header claims ``sample_rate``: the duration it implies is data / (2 * rate) seconds."""
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(b"\x00\x01" * (data_bytes // 2))
    return path


@pytest.mark.parametrize("claimed_rate", [1, 8, 3999])
def test_a_header_claiming_a_tiny_sample_rate_is_unsupported_media(tmp_path: Path, claimed_rate: int) -> None:
    # 136 KB at 8 Hz claims 8,500 s: decoding it once cost 3.1 GB. A header's rate is a claim, not a duration.
    path = _wav_claiming(tmp_path / "claim.wav", claimed_rate, 136_000)
    with pytest.raises(UnsupportedMedia, match="sample rate"):
        probe(path)


def test_telephone_quality_audio_is_accepted(tmp_path: Path) -> None:
    info = probe(_wav_claiming(tmp_path / "phone.wav", 8000, 32_000))
    assert info.duration_seconds == pytest.approx(2.0)


def test_media_longer_than_the_limit_is_media_too_long(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "a.ogg", 3.0)
    assert probe(path, max_seconds=5).duration_seconds == pytest.approx(3.0, abs=0.1)
    with pytest.raises(MediaTooLong) as caught:
        probe(path, max_seconds=2)
    assert (caught.value.status, caught.value.code) == (400, "media_too_long")
    assert "at most 2 s" in caught.value.detail


def test_a_duration_measured_by_decoding_stops_at_the_limit(tmp_path: Path) -> None:
    import av

    # Raw ADTS AAC declares no duration: the probe decodes to count samples, and must stop past the limit.
    path = tmp_path / "raw.aac"
    rate = 16000
    with av.open(str(path), "w", format="adts") as container:
        stream = container.add_stream("aac", rate=rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        frames = [av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")]
        for index in range(int(4 * rate / 1024)):
            frame = frames[0]
            frame.sample_rate, frame.pts = rate, index * 1024
            for packet in stream.encode(frame):  # type: ignore[union-attr]
                container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            container.mux(packet)
    assert probe(path).duration_seconds == pytest.approx(4.0, abs=0.2)
    with pytest.raises(MediaTooLong):
        probe(path, max_seconds=1)


# --- PCM WAV opened without FFmpeg's stream probing ------------------------------------------------------------


def _wav(path: Path, codec: str, *, rate: int = 16000, layout: str = "mono", seconds: float = 1.0) -> Path:
    frames = int(rate * seconds)
    with av.open(str(path), mode="w", format="wav") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = layout  # type: ignore[union-attr]
        samples = np.zeros((1, frames * len(av.AudioLayout(layout).channels)), dtype=np.int16)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):  # type: ignore[union-attr]
            container.mux(packet)
        for packet in stream.encode(None):  # type: ignore[union-attr]
            container.mux(packet)
    return path


def _probed_with_stream_probing(path: Path) -> MediaInfo:
    """What :func:`probe` answered before PCM WAV skipped probing: every file opened with it."""
    with av.open(str(path), mode="r", metadata_errors="ignore") as container:
        return media._inspect(container, math.inf)


@pytest.mark.parametrize(
    ("codec", "rate", "layout"),
    [
        ("pcm_s16le", 16000, "mono"),
        ("pcm_s16le", 44100, "stereo"),
        ("pcm_u8", 8000, "mono"),
        ("pcm_s24le", 48000, "mono"),
        ("pcm_s32le", 22050, "stereo"),
        ("pcm_f32le", 16000, "mono"),
        ("pcm_f64le", 16000, "mono"),
        ("pcm_mulaw", 8000, "mono"),  # WAV format tag 7: not PCM by its tag, probed as before
        ("adpcm_ms", 16000, "mono"),
    ],
)
def test_a_wav_is_probed_as_with_stream_probing(tmp_path: Path, codec: str, rate: int, layout: str) -> None:
    path = _wav(tmp_path / "a.wav", codec, rate=rate, layout=layout, seconds=1.5)
    assert probe(path) == _probed_with_stream_probing(path)


def test_pcm_wav_skips_stream_probing_and_other_media_does_not(tmp_path: Path) -> None:
    assert media._claims_pcm_wav(_wav(tmp_path / "a.wav", "pcm_s16le"))
    assert media._claims_pcm_wav(_wav(tmp_path / "f.wav", "pcm_f32le"))
    assert not media._claims_pcm_wav(_wav(tmp_path / "m.wav", "pcm_mulaw"))
    assert not media._claims_pcm_wav(write_tone(tmp_path / "a.flac"))
    assert not media._claims_pcm_wav(tmp_path / "missing.wav")


def test_a_pcm_wav_header_with_a_broken_body_is_judged_as_before(tmp_path: Path) -> None:
    whole = _wav(tmp_path / "a.wav", "pcm_s16le").read_bytes()
    for name, content in {
        "cut.wav": whole[:60],  # the data chunk cut short
        "header.wav": whole[:44],  # no samples at all
        "garbage.wav": whole[:36] + b"\xff" * 64,  # the data chunk's header replaced
        "sizes.wav": whole[:4] + b"\xff\xff\xff\xff" + whole[8:40] + b"\xff\xff\xff\x7f" + whole[44:],
    }.items():
        path = tmp_path / name
        path.write_bytes(content)
        assert _outcome(probe, path) == _outcome(_probed_with_stream_probing, path), name


def _outcome(probing: Callable[[Path], MediaInfo], path: Path) -> MediaInfo | str:
    try:
        return probing(path)
    except (UnsupportedMedia, av.error.FFmpegError):  # probe() turns FFmpeg's errors into unsupported media
        return "refused"
