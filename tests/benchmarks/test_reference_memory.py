"""The memory benchmark runs end to end on a minute of media (no figures asserted but the WER bookkeeping: memory
and time depend on the box; the real bound on memory is tests/reference_impl/test_engine.py's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.benchmarks.support import BENCHMARKS, load_benchmark

SCRIPT = BENCHMARKS / "reference_memory.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this distribution")
def test_a_minute_of_each_kind_both_ways(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "memory.json"
    args = ["--durations", "1m", "--cache", str(tmp_path / "media"), "--json", str(report)]

    assert load_benchmark(SCRIPT).main(args) == 0

    body = json.loads(report.read_text())
    runs = body["runs"]
    assert [(run["kind"], run["mode"]) for run in runs] == [
        ("speech", "before"),
        ("speech", "after"),
        ("silence", "before"),
        ("silence", "after"),
    ]
    assert all(run["seconds"] == 60 and run["peak_rss_mb"] >= run["model_rss_mb"] > 0 for run in runs)
    assert [run["wer"] is None for run in runs] == [False, False, True, True]
    assert [row["media"] for row in body["agreement"]] == ["1 m speech"]
    assert "Windowed vs whole-file" in capsys.readouterr().out


def test_word_error_rate_counts_substitutions_insertions_and_deletions() -> None:
    benchmark = load_benchmark(SCRIPT)
    assert benchmark.edit_distance(["a", "b", "c", "d"], ["a", "x", "c", "d", "e"]) == 2
    assert benchmark.edit_distance([], ["a", "b"]) == 2
    assert benchmark.wer("The cat sat.", "the cat sat") == 0
    assert benchmark.parse_duration("3h") == 10_800
    assert benchmark.parse_duration("90s") == benchmark.parse_duration("1.5m") == 90
