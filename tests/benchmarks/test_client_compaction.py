"""The compaction benchmark runs end to end (figures are the benchmark's to print; asserted here: every medium is
measured, the compacted PCM and video are at least five times smaller, and the error rates are rates)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks.support import BENCHMARKS, load_benchmark

SCRIPT = BENCHMARKS / "client_compaction.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this distribution")
def test_every_medium_is_compacted_and_transcribed_both_ways(tmp_path: Path) -> None:
    report = tmp_path / "compaction.json"

    assert load_benchmark(SCRIPT).main(["--quick", "--json", str(report)]) == 0

    rows = {row["medium"]: row for row in json.loads(report.read_text())}
    assert len(rows) == 6
    for name in ("speech.wav (espeak-ng, PCM)", "talk.mp4 (H.264 + AAC)"):
        assert rows[name]["bytes_after"] * 5 < rows[name]["bytes_before"], name
    for row in rows.values():
        assert 0 <= row["wer_before"] <= 1
        assert 0 <= row["wer_after"] <= 1
