"""The published guide's Python example runs unchanged against the mock, over real HTTP.

``GUIDE_EXAMPLE`` is the "Python Implementation" of the VoxScriber guide ("Introduction to the VoxScriber API"),
copied verbatim (the guide's page lost the indentation; it is restored here). The test changes exactly three things,
each by a literal replacement that must match once:

1. the base URL ``https://api.voxscriber.com`` → the mock on 127.0.0.1;
2. the API key ``your_api_key_here`` → the mock's test key;
3. the poll interval ``time.sleep(5)`` → ``time.sleep(POLL_SECONDS)`` (0.2 s), so the test is quick.

The example opens ``audio.mp3`` from the working directory: the test runs it in a temporary directory holding the
``weather.mp3`` fixture under that name, and checks that what it prints is the fixture's true text.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.fixtures import speech_fixture
from mockserver.pytest_plugin import MockHandle, default_mock_settings, running_mock

GUIDE_EXAMPLE = """\
import requests
import time
API_KEY = 'your_api_key_here'
HEADERS = {'Authorization': f'Bearer {API_KEY}'}
# Step 1: Upload
with open('audio.mp3', 'rb') as f:
    response = requests.post('https://api.voxscriber.com/v1/upload', headers=HEADERS, files={'file': f})
file_id = response.json()['file_id']
# Step 2: Start Transcription
transcription_request = requests.post('https://api.voxscriber.com/v1/transcribe', headers=HEADERS, json={'file_id': file_id})
job_id = transcription_request.json()['job_id']
# Step 3: Poll for Status
while True:
    status_check = requests.get(f'https://api.voxscriber.com/v1/status/{job_id}', headers=HEADERS)
    result = status_check.json()
    if result['status'] == 'completed':
        print(result['transcript'])
        break
    time.sleep(5)
"""  # noqa: E501 (verbatim from the guide)

#: Shortened from the guide's 5 s (change 3 above): the mock finishes a job in PROCESSING_TIME.
POLL_SECONDS = 0.2
PROCESSING_TIME = 0.5
#: PROCESSING_TIME / POLL_SECONDS polls are enough; far more means the loop does not end.
MAX_POLLS = 20
AUDIO = speech_fixture("weather.mp3")


def adapt(example: str, base_url: str, api_key: str) -> str:
    """The guide's example with the three documented replacements, each of which must match exactly once."""
    replacements = {
        "https://api.voxscriber.com": (base_url, 3),
        "'your_api_key_here'": (repr(api_key), 1),
        "time.sleep(5)": (f"time.sleep({POLL_SECONDS})", 1),
    }
    for old, (new, expected) in replacements.items():
        assert example.count(old) == expected, f"the guide example no longer contains {old!r} {expected} time(s)"
        example = example.replace(old, new)
    return example


@pytest.fixture
def mock() -> Iterator[MockHandle]:
    settings = default_mock_settings().replace(processing_time=PROCESSING_TIME)
    with running_mock(settings) as handle:
        yield handle


@pytest.fixture
def bounded_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Count the example's sleeps, and stop it with a failure if it polls far more often than it should."""
    sleeps: list[float] = []
    real_sleep = time.sleep

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) > MAX_POLLS:
            raise AssertionError(f"the guide's polling loop did not end after {MAX_POLLS} polls")
        real_sleep(seconds)

    monkeypatch.setattr(time, "sleep", sleep)
    return sleeps


def test_guide_example_prints_the_true_transcript(
    mock: MockHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bounded_sleep: list[float],
) -> None:
    shutil.copyfile(AUDIO.path, tmp_path / "audio.mp3")
    monkeypatch.chdir(tmp_path)
    code = compile(adapt(GUIDE_EXAMPLE, mock.base_url, mock.api_key), "voxscriber_guide_example.py", "exec")

    exec(code, {"__name__": "__main__"})

    assert capsys.readouterr().out == AUDIO.text + "\n"
    polls = [entry for entry in mock.journal() if entry["path"].startswith("/v1/status/")]
    assert 1 <= len(polls) <= MAX_POLLS
    assert all(entry["status"] == 200 for entry in polls)
    assert len(bounded_sleep) == len(polls) - 1
    assert set(bounded_sleep) <= {POLL_SECONDS}
