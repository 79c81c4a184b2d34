"""``voxcontract transcribe`` run for real, in a subprocess, against servers on 127.0.0.1.

The reference server (Whisper tiny.en) transcribes hello.wav into an SRT file; a mock with a manual clock keeps a job
waiting for as long as the test likes, so Ctrl-C lands during the wait, and the job completes only when the test
moves the mock's clock — after which ``--resume`` must finish that same job. Exit codes 1 and 2 from a failing job,
a refused upload and unusable flags.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver.app import create_app
from mockserver.settings import MockSettings
from tests.reference_impl.support import KEY_A, serve_reference
from voxcontract.serving import BackgroundServer

BIN = Path(sys.executable).parent
FIXTURES = Path(__file__).resolve().parents[2] / "mockserver" / "fixtures"
HELLO = FIXTURES / "hello.wav"
HELLO_TEXT = next(e["text"] for e in json.loads((FIXTURES / "manifest.json").read_text()) if e["file"] == "hello.wav")
KEY = "cli-test-key"
#: A bound on each run, so a hang fails the test instead of the suite (not an assertion about speed).
RUN_LIMIT = 600
SRT_CUE = re.compile(r"^(\d+)\n(\d\d:\d\d:\d\d,\d{3}) --> (\d\d:\d\d:\d\d,\d{3})\n(.+)$", re.DOTALL)


def environment() -> dict[str, str]:
    """This environment without the SDK's variables (each test passes what it means to), rich at a fixed width."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("VOXSCRIBER_")}
    return {**env, "COLUMNS": "200"}


def run(*args: str, command: str = "voxcontract") -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / command), "transcribe", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=environment(), timeout=RUN_LIMIT, check=False)


def words(text: str) -> list[str]:
    return [word.strip(".,!?").lower() for word in text.split()]


def srt_cues(text: str) -> list[tuple[int, str, str, str]]:
    """The cues of an SRT document (index, start, end, text); a block that is not a cue fails the test."""
    cues = []
    for block in text.strip().split("\n\n"):
        match = SRT_CUE.match(block.strip())
        assert match, f"not an SRT cue: {block!r}"
        cues.append((int(match[1]), match[2], match[3], match[4]))
    return cues


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    """A mock whose jobs take 1 s of a manual clock: they end only when a test moves the clock."""
    settings = MockSettings(api_keys=(KEY,), clock="manual", processing_time=1.0)
    with BackgroundServer(create_app(settings)) as server:
        yield server.base_url


@pytest.fixture
def admin(mock_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock_url, timeout=10) as client:
        assert client.post("/__mock/reset").status_code == 204
        yield client


def test_transcribes_into_an_srt_file_against_the_reference_server(tmp_path: Path) -> None:
    out = tmp_path / "out.srt"
    with serve_reference(tmp_path / "data") as server:
        done = run(str(HELLO), "--api-key", KEY_A, "--base-url", server.url, "--language", "en", "--format", "srt",
                   "--out", str(out))  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # only the transcript goes to stdout, and it went to --out
    cues = srt_cues(out.read_text(encoding="utf-8"))
    assert [cue[0] for cue in cues] == list(range(1, len(cues) + 1))
    heard = words(" ".join(cue[3] for cue in cues))
    assert sum(word in heard for word in words(HELLO_TEXT)) >= len(words(HELLO_TEXT)) - 3, heard
    size_kb = f"{HELLO.stat().st_size / 1000:.1f}"
    assert re.search(rf"upload hello\.wav .*{size_kb}/{size_kb} kB", done.stderr), done.stderr  # the byte bar
    job_id = re.search(r"job (job_\w+) started", done.stderr)
    assert job_id, done.stderr
    assert f"job {job_id[1]} completed" in done.stderr
    assert f"transcript (srt) of job {job_id[1]} written to {out}" in done.stderr


def test_ctrl_c_leaves_the_job_running_and_resume_completes_the_same_job(
    tmp_path: Path, mock_url: str, admin: httpx.Client
) -> None:
    out = tmp_path / "out.srt"
    argv = [str(BIN / "voxcontract"), "transcribe", str(HELLO), "--base-url", mock_url, "--format", "srt"]
    argv += ["--out", str(out)]
    env = {**environment(), "VOXSCRIBER_API_KEY": KEY}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) as process:
        assert process.stderr is not None
        started = None
        for line in process.stderr:  # until the job exists: the mock's clock stands still, so it cannot end
            started = started or re.search(r"job (job_\w+) started", line)
            if started:
                break
        assert started, "the command ended before it started a job"
        job_id = started[1]
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=RUN_LIMIT)

    assert process.returncode == 130, stderr
    assert stdout == ""
    assert not out.exists()
    hint = re.search(r"resume waiting with: (.+)", stderr)
    assert hint, stderr
    resume = shlex.split(hint[1])
    assert resume == ["voxcontract", "transcribe", "--resume", job_id, "--format", "srt", "--out", str(out),
                      "--base-url", mock_url]  # fmt: skip
    jobs = admin.get("/v1/jobs", headers={"Authorization": f"Bearer {KEY}"}).json()["data"]
    assert [(job["job_id"], job["status"]) for job in jobs] == [(job_id, "queued")]  # left running, not cancelled

    assert admin.post("/__mock/clock/advance", json={"seconds": 5}).status_code == 200
    resumed = run(*resume[2:], "--api-key", KEY)

    assert resumed.returncode == 0, resumed.stderr
    assert f"job {job_id} completed" in resumed.stderr
    assert "upload" not in resumed.stderr  # nothing uploaded, nothing started again
    jobs = admin.get("/v1/jobs", headers={"Authorization": f"Bearer {KEY}"}).json()["data"]
    assert [(job["job_id"], job["status"]) for job in jobs] == [(job_id, "completed")]
    assert words(" ".join(cue[3] for cue in srt_cues(out.read_text(encoding="utf-8")))) == words(HELLO_TEXT)


def test_a_failed_job_exits_1_with_its_error_code(tmp_path: Path) -> None:
    settings = MockSettings(api_keys=(KEY,), clock="manual", processing_time=0.0, default_scenario="job-fails")
    with BackgroundServer(create_app(settings)) as server:
        done = run(str(HELLO), "--api-key", KEY, "--base-url", server.base_url)

    assert done.returncode == 1, done.stderr
    assert re.search(r"error: job job_\w+ failed \(transcription_failed\)", done.stderr), done.stderr
    assert done.stdout == ""


def test_a_refused_upload_exits_1_with_the_problem_code_detail_and_request_id(
    tmp_path: Path, mock_url: str, admin: httpx.Client
) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("these are not audio samples\n" * 100)

    done = run(str(not_audio), "--api-key", KEY, "--base-url", mock_url)

    assert done.returncode == 1, done.stderr
    problem = re.search(r"error: the API refused: (\w+) \(HTTP (\d+)\): (.+) \(request id (req_\w+)\)", done.stderr)
    assert problem, done.stderr
    assert problem.group(1, 2) == ("unsupported_media", "400")
    assert problem[3].strip()


@pytest.mark.parametrize("command", ["voxcontract", "voxscriber"])
def test_usage_errors_exit_2(tmp_path: Path, command: str) -> None:
    missing_key = run(str(HELLO), "--base-url", "http://127.0.0.1:9", command=command)
    assert (missing_key.returncode, "no API key" in missing_key.stderr) == (2, True), missing_key.stderr

    missing_file = run(str(tmp_path / "nowhere.wav"), "--api-key", KEY, command=command)
    assert (missing_file.returncode, "no such file" in missing_file.stderr) == (2, True), missing_file.stderr

    neither = run("--api-key", KEY, command=command)
    assert neither.returncode == 2, neither.stderr

    bad_flags = [["--format", "docx"], ["--timestamps", "char"], ["--language", "english"], ["--timeout", "0"]]
    for flags in bad_flags:
        refused = run(str(HELLO), "--api-key", KEY, *flags, command=command)
        assert refused.returncode == 2, (flags, refused.stderr)
        assert refused.stdout == ""


def test_past_timeout_the_job_goes_on_and_resume_prints_its_json_to_stdout(mock_url: str, admin: httpx.Client) -> None:
    timed_out = run(str(HELLO), "--api-key", KEY, "--base-url", mock_url, "--timeout", "0.5", "--format", "json")

    assert timed_out.returncode == 1, timed_out.stderr
    assert timed_out.stdout == ""
    stopped = re.search(r"error: job (job_\w+) is still queued after 0\.5 s; it goes on: (.+)", timed_out.stderr)
    assert stopped, timed_out.stderr
    resume = shlex.split(stopped[2])
    assert resume == ["voxcontract", "transcribe", "--resume", stopped[1], "--format", "json", "--base-url", mock_url]

    assert admin.post("/__mock/clock/advance", json={"seconds": 5}).status_code == 200
    resumed = run(*resume[2:], "--api-key", KEY)

    assert resumed.returncode == 0, resumed.stderr
    transcript = json.loads(resumed.stdout)  # stdout holds the transcript and nothing else
    assert (transcript["job_id"], words(transcript["text"])) == (stopped[1], words(HELLO_TEXT))
    assert f"transcript (json) of job {stopped[1]} written to stdout" in resumed.stderr
