"""The throughput benchmark runs end to end in its quick mode (no timings are asserted: they depend on the box)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mock_throughput.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this distribution")
def test_quick_run_prints_a_table() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--no-prism"], capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert "mock ops/s" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == ["status", "status", "upload+transcribe", "upload+transcribe"]
    assert all(row.split("│")[7].strip() == "0" for row in rows), result.stdout  # no errors


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this distribution")
def test_quick_run_with_wrk_counts_upload_transcribe_pairs() -> None:
    """wrk (installed by ./dev) drives both workloads; its Lua script pairs each upload with a transcribe."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--no-prism", "--tool", "wrk"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    rows = [[cell.strip() for cell in line.split("│")] for line in result.stdout.splitlines() if line.startswith("│")]
    assert [(row[1], row[3]) for row in rows] == [("status", "wrk")] * 2 + [("upload+transcribe", "wrk")] * 2
    assert all(float(row[4].replace(",", "")) > 0 and row[7] == "0" for row in rows), result.stdout
