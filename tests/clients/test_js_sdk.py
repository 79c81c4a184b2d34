"""The TypeScript SDK (clients/js): its Node test suite and its type drift check, run from the root pytest run.

The Node tests start their own mock servers (`voxcontract mock` from this venv) and exercise the compiled package,
so the package is built first: what is tested is what `src/` says now. `./dev` installs its dependencies (npm ci).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "js"
CONTRACT = ROOT / "openapi" / "voxscriber.yaml"

#: Generous: a loaded CI machine; the suite takes about 25 s here.
TEST_TIMEOUT_SECONDS = 300
BUILD_TIMEOUT_SECONDS = 180


def run_npm(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`npm <args>` in clients/js, its output kept whole (stdout and stderr interleaved)."""
    npm = shutil.which("npm")
    assert npm is not None, "npm is not on PATH (./dev setup installs Node's packages for clients/js)"
    assert (PACKAGE / "node_modules").is_dir(), "clients/js/node_modules is missing: run ./dev setup (npm ci)"
    return subprocess.run(
        [npm, *args],
        cwd=PACKAGE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_succeeded(result: subprocess.CompletedProcess[str], what: str) -> None:
    assert result.returncode == 0, f"{what} exited {result.returncode}:\n{result.stdout}"


def test_the_node_test_suite_passes_against_real_mocks() -> None:
    assert_succeeded(run_npm("run", "build", timeout=BUILD_TIMEOUT_SECONDS), "npm run build")
    result = run_npm("test", timeout=TEST_TIMEOUT_SECONDS)
    assert_succeeded(result, "npm test")
    # node --test exits 0 with no tests at all: make sure the scenario matrix really ran.
    assert "# fail 0" in result.stdout
    passed = [line for line in result.stdout.splitlines() if line.startswith("# pass ")]
    assert passed, result.stdout
    assert int(passed[-1].removeprefix("# pass ")) >= 30, result.stdout


def test_the_generated_types_match_the_contract() -> None:
    assert_succeeded(run_npm("run", "check:types", timeout=BUILD_TIMEOUT_SECONDS), "npm run check:types")


def test_the_drift_check_catches_a_contract_change(tmp_path: Path) -> None:
    contract = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    contract["components"]["schemas"]["JobStatus"]["enum"].append("cancelled")
    changed = tmp_path / "voxscriber.yaml"
    changed.write_text(yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")
    result = run_npm("run", "check:types", "--", "--contract", str(changed), timeout=BUILD_TIMEOUT_SECONDS)
    assert result.returncode != 0, result.stdout
    assert "src/schema.ts drifted from openapi/voxscriber.yaml" in result.stdout
    assert '"cancelled"' in result.stdout
