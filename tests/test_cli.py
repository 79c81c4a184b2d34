"""The command line: exit codes 0 / 1 / 2 and outputs, through click and through the installed script."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from voxcontract.cli import COMMANDS_ENTRY_POINT_GROUP, SettingOption, main
from voxcontract.spec import load_spec, spec_path, spec_text


def run(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write(tmp_path: Path, name: str, document: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return str(path)


def test_lint_passes_on_the_contract() -> None:
    result = run("lint")
    assert result.exit_code == 0, result.output
    assert "no findings" in result.output


def test_lint_reports_findings_with_exit_1(tmp_path: Path) -> None:
    broken = load_spec()
    del broken["paths"]["/v1/jobs"]["get"]["responses"]["401"]
    result = run("lint", write(tmp_path, "broken.yaml", broken), "--format", "json")
    assert result.exit_code == 1
    findings = json.loads(result.output)
    assert {"pointer": "#/paths/~1v1~1jobs/get/responses", "rule": "error-responses"} in [
        {"pointer": f["pointer"], "rule": f["rule"]} for f in findings
    ]


@pytest.mark.parametrize("content", [None, "::: not yaml :::\n  - [", "- a list\n- not a document\n"])
def test_lint_usage_problems_exit_2(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "spec.yaml"
    if content is not None:
        path.write_text(content)
    result = CliRunner().invoke(main, ["lint", str(path)])
    assert result.exit_code == 2


def test_diff_exit_codes(tmp_path: Path) -> None:
    same = write(tmp_path, "same.yaml", load_spec())
    assert run("diff", str(spec_path()), same).exit_code == 0
    newer = load_spec()
    del newer["paths"]["/v1/jobs"]
    result = run("diff", str(spec_path()), write(tmp_path, "newer.yaml", newer), "--format", "json")
    assert result.exit_code == 1
    changes = json.loads(result.output)
    assert any(c["kind"] == "operation-removed" and c["breaking"] for c in changes)
    assert CliRunner().invoke(main, ["diff", str(spec_path()), str(tmp_path / "missing.yaml")]).exit_code == 2


def test_diff_only_compatible_changes_exit_0(tmp_path: Path) -> None:
    newer = load_spec()
    newer["paths"]["/v1/jobs"]["get"]["description"] += " Now with more words."
    newer["components"]["schemas"]["Health"]["properties"]["uptime_seconds"] = {"type": "integer"}
    result = run("diff", str(spec_path()), write(tmp_path, "newer.yaml", newer), "--all")
    assert result.exit_code == 0, result.output
    assert "0 breaking change(s)" in result.output


def test_spec_prints_the_bundled_document() -> None:
    assert run("spec").output == spec_text()
    assert json.loads(run("spec", "--format", "json").output) == load_spec()
    assert run("spec", "--path").output.strip() == str(spec_path())


def test_docs_writes_html_and_markdown(tmp_path: Path) -> None:
    result = run("docs", "--out", str(tmp_path / "site"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "site" / "index.html").stat().st_size > 10_000
    assert (tmp_path / "site" / "voxscriber.md").stat().st_size > 5_000


def test_console_script_runs_from_another_directory(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "voxcontract", "lint"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    version = subprocess.run(
        [sys.executable, "-m", "voxcontract", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("voxcontract, version ")


# --- the layers' commands, found through the voxcontract.commands entry points ----------------------------------------

LAYER_COMMANDS = {"mock": "mockserver", "serve": "reference_impl", "worker": "reference_impl"}
LAYER_COMMANDS |= {"keys": "reference_impl", "conformance": "conformance"}
#: The Python SDK's distribution gives the voxcontract tool its transcribe command (the ``cli`` extra).
LAYER_COMMANDS |= {"transcribe": "voxscriber"}


def run_python(code: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True)


def without_module(module: str) -> str:
    """A ``voxcontract`` process in which ``module`` cannot be imported, as when its extra is not installed."""
    return f"import sys; sys.modules[{module!r}] = None; from voxcontract.cli import main; main()"


def test_the_layers_register_their_commands() -> None:
    registered = {point.name: point.module for point in entry_points(group=COMMANDS_ENTRY_POINT_GROUP)}
    assert {name: module.partition(".")[0] for name, module in registered.items()} == LAYER_COMMANDS
    listed = run("--help").output
    for name in [*LAYER_COMMANDS, "lint", "docs", "diff", "spec"]:
        assert f"\n  {name} " in listed, listed


def test_core_commands_load_no_layer(tmp_path: Path) -> None:
    code = (
        "import sys\nfrom voxcontract.cli import main\ntry:\n    main(['lint'])\nexcept SystemExit as exit:\n"
        "    loaded = sorted({m.partition('.')[0] for m in sys.modules} & set(sys.argv[1:]))\n"
        "    print(exit.code, loaded)"
    )
    result = run_python(code, *set(LAYER_COMMANDS.values()), cwd=tmp_path)
    assert result.stdout.splitlines()[-1] == "0 []", result.stdout + result.stderr


def test_a_missing_extra_is_named_not_a_traceback(tmp_path: Path) -> None:
    result = run_python(without_module("sqlalchemy"), "keys", "list", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "voxcontract keys needs the reference extra (pip install 'voxcontract[reference]')" in result.stderr
    assert "no module named 'sqlalchemy'" in result.stderr


def test_a_command_that_cannot_load_is_listed_and_refuses_with_the_reason(tmp_path: Path) -> None:
    listed = run_python(without_module("httpx"), "--help", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "conformance  (unavailable) voxcontract conformance needs a dependency" in listed.stdout
    refused = run_python(without_module("httpx"), "conformance", "--url", "http://127.0.0.1:9", cwd=tmp_path)
    assert (refused.returncode, "Traceback" in refused.stderr) == (2, False), refused.stderr
    assert "voxcontract conformance needs a dependency that is missing: no module named 'httpx'" in refused.stderr


# --- flags whose help shows their setting's default ----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ExampleSettings:
    port: int = 8123
    schedule: tuple[float, ...] = (0.5, 2.0)
    label: str | None = None


@click.command()
@click.option("--port", cls=SettingOption, setting=f"{__name__}:ExampleSettings", type=int, help="Port.")
@click.option("--schedule", cls=SettingOption, setting=f"{__name__}:ExampleSettings", help="Retries, comma-separated.")
@click.option("--label", cls=SettingOption, setting=f"{__name__}:ExampleSettings", help="A label.")
def example_command(**_options: Any) -> None:
    """Takes the example settings."""


def test_a_setting_flag_shows_the_default_of_its_settings_field() -> None:
    shown = " ".join(CliRunner().invoke(example_command, ["--help"]).output.split())
    assert "Port (default 8123)." in shown
    assert "Retries, comma-separated (default 0.5,2)." in shown
    assert "A label (default none)." in shown


@pytest.mark.parametrize(("command", "settings"), [("mock", "MockSettings"), ("serve", "ReferenceSettings")])
def test_the_servers_flags_show_their_settings_defaults(command: str, settings: str) -> None:
    from mockserver.settings import MockSettings
    from reference_impl.settings import ReferenceSettings

    defaults = {"MockSettings": MockSettings(), "ReferenceSettings": ReferenceSettings()}[settings]
    shown = " ".join(CliRunner().invoke(main, [command, "--help"]).output.split())
    assert f"Port to listen on (default {defaults.port})." in shown
    assert f"(default {defaults.log_level})." in shown
