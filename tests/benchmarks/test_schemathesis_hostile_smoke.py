"""The Schemathesis hostile-input run works end to end on both servers, in a small run (the full one is a benchmark)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "schemathesis_hostile.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this distribution")
def test_a_small_run_counts_answers_and_finds_no_5xx() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--max-examples", "3", "--min-requests", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split("│")[1].strip(): line.split("│") for line in result.stdout.splitlines() if line.startswith("│")}
    assert set(rows) == {"mock", "reference"}
    for cells in rows.values():
        assert int(cells[2].strip().replace(",", "")) > 100  # requests
        assert (cells[7].strip(), cells[8].strip()) == ("0", "0")  # 5xx, logged errors
