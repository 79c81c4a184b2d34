"""Work bounded, through the API (issue 9): a DELETEd job stops whatever its audio, and a job past its processing
deadline fails with ``processing_timeout``. A real reference server with one job thread and the real engine.

The audio is white noise with the VAD off: Whisper's worst case. It yields no segment (no speech), yet decodes every
30 s at each temperature of its fallback, about 5 s of work per 30 s of noise on 2 cores (tiny.en): 20 minutes of it
keep a job thread busy for several minutes. The engine used to look for a stop only when a segment came out.
"""

from __future__ import annotations

import logging
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from reference_impl.db import JobStatus
from tests.reference_impl.support import serve_reference, start_job, transcribe, upload, wait_for_job

HELLO = Path("mockserver/fixtures/hello.wav")
NOISE_MINUTES = 20
#: Generous: the stop takes a second or two and the next job a few; before, the noise ran on for minutes.
NEXT_JOB_BOUND_SECONDS = 60.0


@pytest.fixture(scope="module")
def noise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("noise") / "noise.wav"
    samples = np.random.default_rng(9).normal(0, 3000, NOISE_MINUTES * 60 * 16_000)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
    return path


def test_deleting_a_running_job_frees_its_worker_at_once_even_on_noise(
    tmp_path: Path, noise: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reference_impl.worker")
    with serve_reference(tmp_path, vad_filter=False, workers=1) as server, server.client() as client:
        noisy = start_job(client, upload(client, noise)["file_id"])
        while client.get(f"/v1/status/{noisy['job_id']}").json()["status"] != "processing":
            time.sleep(0.05)
        time.sleep(2.0)  # well into the model's work on noise
        assert client.delete(f"/v1/jobs/{noisy['job_id']}").status_code == 204
        deleted = time.monotonic()
        # One job thread: the next job of the same key starts only once the deleted one has stopped.
        hello = start_job(client, upload(client, HELLO)["file_id"])
        done = wait_for_job(client, hello["job_id"], timeout=NEXT_JOB_BOUND_SECONDS)
        print(f"the next job completed {time.monotonic() - deleted:.1f} s after the DELETE")
        assert done["status"] == "completed"
        assert "hello" in done["transcript"].lower()
    stopped = f"job {noisy['job_id']}: stopped, it was deleted or taken over"
    assert stopped in [record.getMessage() for record in caplog.records]


def test_a_job_past_its_deadline_fails_with_processing_timeout(tmp_path: Path, noise: Path) -> None:
    overrides = {"vad_filter": False, "job_deadline_factor": 0.001, "job_deadline_min_seconds": 1.0}
    with serve_reference(tmp_path, **overrides) as server, server.client() as client:
        job = transcribe(client, noise)
        assert job["status"] == JobStatus.FAILED
        assert job["error"]["code"] == "processing_timeout"
        assert "deadline of 2 s (0.001 x the media's 1200 s + 1 s)" in job["error"]["message"]
