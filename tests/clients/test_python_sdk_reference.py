"""One full flow of the Python SDK against the real reference server (Whisper tiny.en on CPU, hello.wav)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import voxscriber

from tests.reference_impl.support import KEY_A, serve_reference

FIXTURES = Path(__file__).resolve().parents[2] / "mockserver" / "fixtures"


def words(text: str) -> list[str]:
    return [word.strip(".,!?").lower() for word in text.split()]


def test_transcribe_file_download_list_and_delete_against_the_reference_server(tmp_path: Path) -> None:
    expected = next(e["text"] for e in json.loads((FIXTURES / "manifest.json").read_text()) if e["file"] == "hello.wav")
    with serve_reference(tmp_path) as server, voxscriber.Client(KEY_A, server.url) as client:
        sent: list[int] = []
        job = client.transcribe_file(
            FIXTURES / "hello.wav", language="en", progress=lambda done, _total: sent.append(done), timeout=300
        )
        assert job.status == "completed"
        assert sent[-1] == (FIXTURES / "hello.wav").stat().st_size
        heard = words(job.transcript or "")
        assert sum(word in heard for word in words(expected)) >= len(words(expected)) - 3, job.transcript

        srt = client.transcript(job.job_id, format="srt")
        assert isinstance(srt, str)
        assert "-->" in srt
        assert [listed.job_id for listed in client.jobs.list()] == [job.job_id]

        client.jobs.delete(job.job_id)
        client.files.delete(job.file_id)
        with pytest.raises(voxscriber.NotFound) as gone:
            client.files.get(job.file_id)
        assert gone.value.request_id
