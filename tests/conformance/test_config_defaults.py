"""The suite's limits have one default each, ConformanceConfig's: what it hands on takes them without defaults."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from conformance.client import SuiteTransport, build_client
from conformance.config import ConformanceConfig, new_context
from conformance.context import ConformanceContext
from conformance.runner import Runner

#: The config's fields that have a value by default (not None, not empty): the settings a run is tuned by.
LIMITS = {
    field.name: field.default
    for field in dataclasses.fields(ConformanceConfig)
    if field.default not in (dataclasses.MISSING, None, ())
}
#: Everything the config's limits are handed to, and under which name.
RECEIVERS: dict[str, Callable[..., Any]] = {
    "ConformanceContext": ConformanceContext,
    "Runner": Runner,
    "build_client": build_client,
    "SuiteTransport": SuiteTransport,
}


def test_the_limits_are_the_config_s() -> None:
    assert {"max_wait", "check_timeout", "request_budget", "job_deadline", "webhook_deadline"} <= set(LIMITS)


@pytest.mark.parametrize("receiver", sorted(RECEIVERS))
def test_no_other_default_for_a_limit(receiver: str) -> None:
    parameters = inspect.signature(RECEIVERS[receiver]).parameters
    second_defaults = {
        name: parameters[name].default
        for name in LIMITS
        if name in parameters and parameters[name].default is not inspect.Parameter.empty
    }
    assert second_defaults == {}


def test_a_context_built_from_the_config_has_the_config_s_limits() -> None:
    ctx = new_context(ConformanceConfig(url="http://127.0.0.1:9", api_key="key-a"))
    try:
        handed_on = {name: getattr(ctx, name) for name in LIMITS if hasattr(ctx, name)}
    finally:
        ctx.close()
    assert handed_on == {name: value for name, value in LIMITS.items() if name in handed_on}
    assert {"max_wait", "request_budget", "job_deadline", "webhook_deadline", "max_examples"} <= set(handed_on)
