"""The reference RTF benchmark runs end to end on a short recording (no timings asserted: they depend on the box)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mockserver.fixtures import speech_fixture
from tests.benchmarks.support import BENCHMARKS, load_benchmark

SCRIPT = BENCHMARKS / "reference_rtf.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this distribution")
def test_one_round_prints_and_writes_both_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    audio = speech_fixture("hello.wav").path
    report = tmp_path / "rtf.json"
    args = ["--repeat", "1", "--concurrency", "1", "--device", "cpu", "--audio", str(audio), "--json", str(report)]

    assert load_benchmark(SCRIPT).main(args) == 0

    results = json.loads(report.read_text())["results"]
    assert [row["mode"] for row in results] == ["direct", "API job", "API end to end"]
    assert all(row["concurrency"] == 1 and row["median_rtf"] > 0 for row in results)
    assert all(row["overhead_percent"] is not None for row in results[1:])
    table = capsys.readouterr().out
    assert "direct" in table
    assert "API end to end" in table
