"""The wheel ships every package and the contract as package data, and works from any directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (path,) = out.glob("voxcontract-*.whl")
    return path


def test_wheel_contains_packages_spec_and_markers(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "voxcontract/openapi/voxscriber.yaml" in names
    for package in ("voxcontract", "mockserver", "reference_impl", "conformance"):
        assert f"{package}/__init__.py" in names
        assert f"{package}/py.typed" in names
    assert any(name.startswith("voxcontract/tools/templates/") for name in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "voxcontract = voxcontract.cli:main" in declared
    # The layers' commands travel with the wheel; the core finds them there (voxcontract.cli imports no layer).
    assert "[voxcontract.commands]" in declared
    assert "serve = reference_impl.cli:serve [reference]" in declared
    assert "mock = mockserver.cli:mock" in declared


def test_installed_wheel_loads_its_own_spec_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import voxcontract, voxcontract.spec as s;"
        "print(voxcontract.__file__); print(s.spec_path()); print(s.load_spec()['openapi'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=elsewhere,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    module_file, spec_file, version = result.stdout.split()
    assert Path(module_file).is_relative_to(site)
    assert Path(spec_file).is_relative_to(site)
    assert version == "3.0.3"
    assert (site / "voxcontract/openapi/voxscriber.yaml").read_bytes() == (
        ROOT / "openapi/voxscriber.yaml"
    ).read_bytes()
