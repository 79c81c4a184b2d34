"""JUnit XML for CI: one ``<testsuite>`` per group, one ``<testcase>`` per check, failures with their curl.

::

    <testsuites name="voxcontract conformance" tests=".." failures=".." errors=".." skipped=".." time="..">
      <testsuite name="auth" tests=".." ...>
        <testcase classname="conformance.auth" name="missing-key" time="0.12">
          <failure message="..." type="CheckFailed">message, further findings, reproduce with: curl ...</failure>
        </testcase>
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.events import CheckResult, Event, RunFinished, RunResult, Status

__all__ = ["JUnitWriter", "junit_tree"]

_NOT_DECIDED = (Status.SKIPPED, Status.UNVERIFIED)
_ELEMENTS = {Status.FAILED: ("failure", "CheckFailed"), Status.ERROR: ("error", "CheckError")}


def _counts(results: list[CheckResult] | tuple[CheckResult, ...], duration: float) -> dict[str, str]:
    return {
        "tests": str(len(results)),
        "failures": str(sum(1 for item in results if item.status is Status.FAILED)),
        "errors": str(sum(1 for item in results if item.status is Status.ERROR)),
        "skipped": str(sum(1 for item in results if item.status in _NOT_DECIDED)),
        "time": f"{duration:.3f}",
    }


def _body(item: CheckResult) -> str:
    lines = [item.message, *(f"also: {finding}" for finding in item.findings)]
    if item.reproduction:
        lines += ["", "reproduce with:", item.reproduction]
    if item.details:
        lines += ["", item.details]
    return "\n".join(lines)


def _testcase(item: CheckResult) -> ET.Element:
    case = ET.Element(
        "testcase", {"classname": f"conformance.{item.group}", "name": item.name, "time": f"{item.duration:.3f}"}
    )
    if item.status in _ELEMENTS:
        tag, kind = _ELEMENTS[item.status]
        ET.SubElement(case, tag, {"message": item.message, "type": kind}).text = _body(item)
    elif item.status in _NOT_DECIDED:
        # JUnit has no "unverified": it is a skip whose message says so.
        prefix = "unverified: " if item.status is Status.UNVERIFIED else ""
        ET.SubElement(case, "skipped", {"message": prefix + item.message})
    if item.notes:
        ET.SubElement(case, "system-out").text = "\n".join(item.notes)
    return case


def junit_tree(result: RunResult) -> ET.ElementTree[ET.Element]:
    """The JUnit document of a run."""
    root = ET.Element("testsuites", {"name": "voxcontract conformance", **_counts(result.results, result.duration)})
    for group in result.groups:
        results = [item for item in result.results if item.group == group]
        suite = ET.SubElement(
            root,
            "testsuite",
            {"name": group, "timestamp": result.started_at, **_counts(results, sum(i.duration for i in results))},
        )
        properties = ET.SubElement(suite, "properties")
        ET.SubElement(properties, "property", {"name": "base_url", "value": result.base_url})
        suite.extend(_testcase(item) for item in results)
    tree: ET.ElementTree[ET.Element] = ET.ElementTree(root)
    ET.indent(tree)
    return tree


class JUnitWriter:
    """Writes the JUnit XML to ``path`` when the run finishes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def handle(self, event: Event) -> None:
        if isinstance(event, RunFinished):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            junit_tree(event.result).write(self.path, encoding="utf-8", xml_declaration=True)
