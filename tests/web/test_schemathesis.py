"""Schemathesis against the running demo: no server error and no response that breaks the
OpenAPI document, for any operation, with generated valid and invalid input.

One check is left out: `positive_data_acceptance` treats any string as a valid `after` cursor,
while a cursor is opaque and only those the API gave out are valid (anything else is rightly a 400).
The enum and pattern parameters it would also cover are tested by name in the catalog tests.
`max_response_time` is a wall-clock check (10 s): speed is measured in bench/, not asserted here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.demo_process import running_demo

pytestmark = pytest.mark.slow  # the longest single test of the suite: dealt first (tests/xdist_scheduling.py)

SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]
# Every check of `--checks all` but the two the docstring explains (`all` would also switch on
# max_response_time).
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
)


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    with running_demo(tmp_path) as (base, keys, _):
        result = subprocess.run(
            [
                *SCHEMATHESIS,
                "run",
                f"{base}/openapi.json",
                "--checks",
                ",".join(CHECKS),
                "-H",
                f"Authorization: Bearer {keys['admin']}",
                "--max-examples",
                "25",
                "--seed",
                "20261125",
                "--generation-database",
                "none",
                "--request-timeout",
                "20",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    report = tmp_path / "schemathesis.txt"
    report.write_text(result.stdout + result.stderr)
    failures = (
        result.stdout[result.stdout.find("FAILURES") :] if "FAILURES" in result.stdout else result.stdout
    )
    assert result.returncode == 0, f"full report: {report}\n" + failures[:12000]
