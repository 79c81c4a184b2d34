"""The deployment files in ``deploy/`` against the code they configure: every ``VOXCONTRACT_*`` variable is a setting
and its example value is accepted, every command is a real ``voxcontract`` command with flags it accepts, Compose
runs what the systemd units run, and the shared services are wired the way the environment file says."""

from __future__ import annotations

import dataclasses
import os
import re
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import click
import pytest

from reference_impl.cli import reference_settings
from reference_impl.settings import ReferenceSettings
from reference_impl.worker import _STOP_GRACE_SECONDS
from tests.deploy_files import (
    DEPLOY_DIR,
    compose_services,
    env_file,
    mentioned_settings,
    unit_directives,
    unit_exec_start,
)
from voxcontract.cli import COMMANDS_ENTRY_POINT_GROUP
from voxcontract.errors import ConfigError
from voxcontract.settings import ENV_PREFIX

ENV_EXAMPLE = DEPLOY_DIR / "voxcontract.env.example"
COMPOSE = DEPLOY_DIR / "compose.yaml"
API_UNIT = DEPLOY_DIR / "systemd" / "voxcontract-api.service"
WORKER_UNIT = DEPLOY_DIR / "systemd" / "voxcontract-worker@.service"
UNITS = (API_UNIT, WORKER_UNIT)
#: Where the units read the environment file on a host.
SHARED_ENV_PATH = "/etc/voxcontract/voxcontract.env"
#: Compose services that run voxcontract, and the unit each must run the same command as.
COMPOSE_NODES = {"api-1": API_UNIT, "api-2": API_UNIT, "worker": WORKER_UNIT}
#: Settings that differ per node: given on the unit's command line, never in the shared file.
PER_NODE_SETTINGS = ("host", "port", "workers", "cpu_threads")
#: The AWS variables the S3 media store and the AWS CLI read (boto3: AWS_DEFAULT_REGION; the CLI: AWS_REGION).
STANDARD_AWS_VARIABLES = {
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
}
REQUIRED_AWS_VARIABLES = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
README = Path(__file__).resolve().parents[1] / "reference_impl" / "README.md"


def setting_variables() -> set[str]:
    return {ENV_PREFIX + field.name.upper() for field in dataclasses.fields(ReferenceSettings)}


def unknown_settings(text: str) -> set[str]:
    """The ``VOXCONTRACT_*`` names in ``text`` that no field of ReferenceSettings reads (typos, removed settings)."""
    return mentioned_settings(text) - setting_variables()


def deploy_files() -> list[str]:
    return sorted(str(path.relative_to(DEPLOY_DIR)) for path in DEPLOY_DIR.rglob("*") if path.is_file())


def voxcontract_command(name: str) -> click.Command:
    """The click command that ``voxcontract <name>`` runs, loaded from its entry point as the CLI loads it."""
    (point,) = [point for point in entry_points(group=COMMANDS_ENTRY_POINT_GROUP) if point.name == name]
    command = point.load()
    assert isinstance(command, click.Command)
    return command


def parse_command(argv: list[str]) -> click.Context:
    """Parse a ``voxcontract <command> <flags>`` command line with the real command (raises on an unknown flag or a
    bad value); the command itself does not run."""
    assert Path(argv[0]).name == "voxcontract", argv
    name, *flags = argv[1:]
    return voxcontract_command(name).make_context(f"voxcontract {name}", flags)


def shared_environment(tmp_path: Path) -> dict[str, str]:
    """The example environment file's variables, the data dir pointed at ``tmp_path``."""
    return {**env_file(ENV_EXAMPLE), "VOXCONTRACT_DATA_DIR": str(tmp_path / "data")}


def shared_settings(settings: ReferenceSettings) -> dict[str, object]:
    """Every setting but the per-node ones."""
    return {name: value for name, value in dataclasses.asdict(settings).items() if name not in PER_NODE_SETTINGS}


def service_setting(key: str, path: Path, section: str = "Service") -> list[str]:
    return [value for name, value in unit_directives(path)[section] if name == key]


# --- the settings


def test_media_url_is_a_setting() -> None:
    # The deployment keeps media on S3 through this one setting.
    assert "media_url" in {field.name for field in dataclasses.fields(ReferenceSettings)}


@pytest.mark.parametrize("name", deploy_files())
def test_every_voxcontract_variable_in_the_deploy_files_is_a_setting(name: str) -> None:
    text = (DEPLOY_DIR / name).read_text()
    assert unknown_settings(text) == set(), f"deploy/{name} names settings that do not exist"


def test_a_misspelt_setting_is_reported() -> None:
    text = "VOXCONTRACT_MEDIA_URL=s3://a/b\nVOXCONTRACT_MEDIA_ULR=s3://a/b\n# VOXCONTRACT_QUEUE_URI=redis://r/0\n"
    assert unknown_settings(text) == {"VOXCONTRACT_MEDIA_ULR", "VOXCONTRACT_QUEUE_URI"}


def test_the_example_environment_is_accepted_by_the_settings(tmp_path: Path) -> None:
    environment = shared_environment(tmp_path)
    settings = ReferenceSettings.from_env(environment)
    assert settings.data_path == (tmp_path / "data").resolve()
    assert str(settings.database_url).startswith("postgresql+psycopg://")
    assert str(settings.queue_url).startswith("redis://")
    assert settings.rate_limit_storage.startswith("redis://")
    # Two Redis databases: the queue's keys and the rate-limit counters never mix.
    assert urlsplit(settings.queue_url).path != urlsplit(settings.rate_limit_storage).path
    assert getattr(settings, "media_url", None) == environment["VOXCONTRACT_MEDIA_URL"]
    assert environment["VOXCONTRACT_MEDIA_URL"].startswith("s3://")


def test_a_value_the_settings_refuse_is_caught(tmp_path: Path) -> None:
    environment = {**shared_environment(tmp_path), "VOXCONTRACT_QUEUE_URL": "amqp://rabbit/0"}
    with pytest.raises(ConfigError, match="queue_url"):
        ReferenceSettings.from_env(environment)


def test_per_node_settings_are_left_to_the_units() -> None:
    shared = env_file(ENV_EXAMPLE)
    assert {ENV_PREFIX + name.upper() for name in PER_NODE_SETTINGS} & set(shared) == set()


# --- the commands


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_unit_commands_are_real_voxcontract_commands(unit: Path) -> None:
    context = parse_command(unit_exec_start(unit))
    assert context.params["workers"] is not None


@pytest.mark.parametrize("service", sorted(COMPOSE_NODES))
def test_compose_commands_are_real_voxcontract_commands(service: str) -> None:
    parse_command(compose_services(COMPOSE)[service]["command"])


def test_an_unknown_flag_is_caught() -> None:
    with pytest.raises(click.NoSuchOption):
        parse_command(["/opt/voxcontract/bin/voxcontract", "worker", "--workers", "1", "--media-ulr", "s3://a/b"])
    with pytest.raises(click.BadParameter):
        parse_command(["voxcontract", "serve", "--port", "http"])


@pytest.mark.parametrize(("service", "unit"), sorted(COMPOSE_NODES.items()), ids=sorted(COMPOSE_NODES))
def test_compose_runs_what_the_units_run(service: str, unit: Path) -> None:
    assert compose_services(COMPOSE)[service]["command"] == unit_exec_start(unit)


def test_api_nodes_only_serve_and_workers_transcribe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What each node runs with: the shared file's variables, then its unit's flags (as ``voxcontract`` resolves
    them); everything but the per-node settings is the same on both."""
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in shared_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    api, worker = (reference_settings(dict(parse_command(unit_exec_start(unit)).params)) for unit in UNITS)
    assert (api.workers, api.host, worker.workers) == (0, "0.0.0.0", 1)
    assert shared_settings(api) == shared_settings(worker)


# --- the systemd units


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_units_read_the_shared_environment_and_run_hardened(unit: Path) -> None:
    data_dir = env_file(ENV_EXAMPLE)["VOXCONTRACT_DATA_DIR"]
    assert service_setting("EnvironmentFile", unit) == [SHARED_ENV_PATH]
    assert service_setting("User", unit) == ["voxcontract"]
    assert service_setting("Restart", unit) == ["on-failure"]
    assert data_dir in " ".join(service_setting("ReadWritePaths", unit)).split()
    for hardening in ("NoNewPrivileges", "PrivateTmp"):
        assert service_setting(hardening, unit) == ["yes"], hardening
    assert service_setting("ProtectSystem", unit) == ["strict"]


@pytest.mark.parametrize("unit", UNITS, ids=lambda path: path.name)
def test_units_give_a_stopping_worker_time_to_release_its_jobs(unit: Path) -> None:
    assert service_setting("KillSignal", unit) == ["SIGTERM"]
    (timeout,) = service_setting("TimeoutStopSec", unit)
    assert float(timeout) > _STOP_GRACE_SECONDS


def test_unit_parser_reads_continued_lines_and_refuses_two_commands(tmp_path: Path) -> None:
    unit = tmp_path / "x.service"
    unit.write_text("[Service]\n# a comment\nExecStart=/opt/voxcontract/bin/voxcontract worker \\\n  --workers 2\n")
    assert unit_exec_start(unit) == ["/opt/voxcontract/bin/voxcontract", "worker", "--workers", "2"]
    unit.write_text("[Service]\nExecStart=/bin/true\nExecStart=/bin/false\n")
    with pytest.raises(ValueError, match="one ExecStart"):
        unit_exec_start(unit)


def test_env_file_parser_refuses_what_systemd_or_compose_would_misread(tmp_path: Path) -> None:
    path = tmp_path / "x.env"
    path.write_text("# comment\nA='quoted'\nB=\n")
    assert env_file(path) == {"A": "quoted", "B": ""}
    for bad in ("export A=1\n", "A=1\nA=2\n", "just words\n"):
        path.write_text(bad)
        with pytest.raises(ValueError, match=r"KEY=value|set twice"):
            env_file(path)


# --- the Compose file


def test_voxcontract_services_share_the_one_environment_file() -> None:
    services = compose_services(COMPOSE)
    for name in COMPOSE_NODES:
        assert services[name]["env_file"] == "voxcontract.env", name
        overrides = services[name].get("environment", {})
        assert [key for key in overrides if key.startswith(ENV_PREFIX)] == [], f"{name} overrides shared settings"
    assert (DEPLOY_DIR / "voxcontract.env.example").exists()


def test_compose_wiring_matches_the_environment_file() -> None:
    services, shared = compose_services(COMPOSE), env_file(ENV_EXAMPLE)
    database = urlsplit(shared["VOXCONTRACT_DATABASE_URL"])
    postgres = services[str(database.hostname)]["environment"]
    assert (database.username, database.password, database.path.lstrip("/")) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
        postgres["POSTGRES_DB"],
    )
    for variable in ("VOXCONTRACT_QUEUE_URL", "VOXCONTRACT_RATE_LIMIT_STORAGE"):
        assert urlsplit(shared[variable]).hostname == "redis", variable
    assert "redis-server" in services["redis"]["command"]
    store = str(urlsplit(shared["AWS_ENDPOINT_URL"]).hostname)
    assert "-s3" in services[store]["command"]
    bucket = urlsplit(shared["VOXCONTRACT_MEDIA_URL"]).netloc
    assert f"create-bucket --bucket {bucket}" in " ".join(services["create-bucket"]["command"])


def test_every_dependency_is_a_service() -> None:
    services = compose_services(COMPOSE)
    for name, service in services.items():
        assert set(service.get("depends_on", {})) <= set(services), name


@pytest.mark.parametrize("service", ["api-1", "api-2"])
def test_api_nodes_are_health_checked_on_their_port(service: str) -> None:
    definition = compose_services(COMPOSE)[service]
    port = definition["command"][definition["command"].index("--port") + 1]
    probe = " ".join(definition["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/v1/health" in probe


# --- the S3 variables


def test_aws_variables_are_the_standard_names() -> None:
    aws = {name for name in env_file(ENV_EXAMPLE) if name.startswith("AWS_")}
    assert aws <= STANDARD_AWS_VARIABLES
    assert aws >= REQUIRED_AWS_VARIABLES


def test_boto3_finds_the_store_from_the_environment_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = env_file(ENV_EXAMPLE)
    assert shared["AWS_REGION"] == shared["AWS_DEFAULT_REGION"]
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))  # no ~/.aws of whoever runs the tests
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in (name for name in shared if name.startswith("AWS_")):
        monkeypatch.setenv(name, shared[name])
    session = boto3.session.Session()
    client = session.client("s3")
    credentials = session.get_credentials()
    assert credentials is not None
    assert client.meta.endpoint_url == shared["AWS_ENDPOINT_URL"]
    assert client.meta.region_name == shared["AWS_REGION"]
    assert (credentials.access_key, credentials.secret_key) == (
        shared["AWS_ACCESS_KEY_ID"],
        shared["AWS_SECRET_ACCESS_KEY"],
    )


# --- the operators' guide


def test_the_guide_links_deploy_files_that_exist() -> None:
    linked = set(re.findall(r"deploy/[\w.@/-]*[\w@]", README.read_text()))
    assert linked, "reference_impl/README.md links no deploy/ file"
    root = DEPLOY_DIR.parent
    assert {path for path in linked if not (root / path).exists()} == set()
