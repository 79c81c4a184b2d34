"""The worker-scaling benchmark runs end to end on a real cluster (PostgreSQL, Redis, SeaweedFS, an API node and a
worker node as separate processes) with one worker node and two short jobs; no timings asserted, only that the
figures are real: every job completed once, on the one worker node, and the throughput is positive and finite."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mockserver.fixtures import speech_fixture
from tests.benchmarks.support import BENCHMARKS, load_benchmark

SCRIPT = BENCHMARKS / "workers_hosts.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ is not part of this distribution")
def test_one_worker_node_runs_a_batch_through_the_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hello = speech_fixture("hello.wav")
    report = tmp_path / "workers.json"
    args = ["--workers-hosts", "1", "--jobs", "2", "--repeat", "1", "--audio", str(hello.path), "--json", str(report)]

    assert load_benchmark(SCRIPT).main(args) == 0

    body = json.loads(report.read_text())
    assert body["machine"]["cpus"] >= 1
    [row] = body["results"]
    assert (row["workers"], row["cpu_threads"], row["completed"], row["submitted"], row["retries"]) == (1, 1, 2, 2, 0)
    assert row["jobs_by_worker"] == {"1": 2}
    assert row["audio_seconds_per_job"] == pytest.approx(hello.duration_seconds, abs=0.05)
    for name in ("median_wall", "jobs_per_minute", "audio_seconds_per_wall_second"):
        assert math.isfinite(row[name]), (name, row[name])
        assert row[name] > 0, (name, row[name])
    assert row["jobs_per_minute"] == pytest.approx(2 * 60 / row["median_wall"])
    assert row["speed_up"] == 1
    assert 0 <= row["median_queue_wait"] < row["median_wall"]
    assert 0 < row["median_run_time"] <= row["median_wall"]
    table = capsys.readouterr().out
    assert "jobs/min" in table
    assert "2/2" in table
