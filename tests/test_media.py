"""PyAV probing of every container the contract lists, and refusal of what is not audio."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media_factory import write_tone
from voxcontract.errors import UnsupportedMedia
from voxcontract.media import probe


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
