"""`latest_wins` at the precision each side gives (BC milliseconds, Dataverse whole seconds), with
its tie rule: an edit wins only when it is provably the later one, otherwise the ERP wins."""

from __future__ import annotations

from datetime import datetime

import pytest

from gateway.domain import Side
from gateway.sync.model import ConflictPolicy, FieldMapping, MappingDirection, TableMapping
from gateway.sync.reconcile import LATEST_WINS_TIE, later_side, reconcile, stamp_resolution
from gateway.sync.values import LookupTable
from gateway.upstream.odata import parse_datetime


def stamp(text: str) -> datetime:
    parsed = parse_datetime(text)  # the connectors' own parser: what the engine compares
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("erp", "crm", "later"),
    [
        # BC (ms) against Dataverse (whole seconds): the CRM second must start after the BC millisecond.
        ("2026-11-25T10:00:00.900Z", "2026-11-25T10:00:01Z", Side.CRM),
        ("2026-11-25T10:00:00.900Z", "2026-11-25T10:00:00Z", None),  # 10:00:00 may mean .950: a tie
        ("2026-11-25T10:00:01.250Z", "2026-11-25T10:00:00Z", Side.ERP),  # after the CRM second ended
        ("2026-11-25T10:00:00.999Z", "2026-11-25T10:00:00Z", None),
        # Both in milliseconds (a Dataverse that gives them): full precision decides.
        ("2026-11-25T10:00:00.900Z", "2026-11-25T10:00:00.950Z", Side.CRM),
        ("2026-11-25T10:00:00.951Z", "2026-11-25T10:00:00.950Z", Side.ERP),
        ("2026-11-25T10:00:00.950Z", "2026-11-25T10:00:00.950Z", None),
        # .NET's seven digits keep their microseconds.
        ("2026-11-25T10:00:00.9500021Z", "2026-11-25T10:00:00.9500011Z", Side.ERP),
        # A whole-second ERP stamp against a finer CRM one inside that second: a tie, not "CRM later".
        ("2026-11-25T10:00:00Z", "2026-11-25T10:00:00.500Z", None),
        ("2026-11-25T10:00:00Z", "2026-11-25T10:00:01.000001Z", Side.CRM),
    ],
)
def test_the_later_side_is_decided_at_the_precision_both_stamps_give(
    erp: str, crm: str, later: Side | None
) -> None:
    assert later_side(stamp(erp), stamp(crm)) is later


def test_stamp_resolution_reads_the_precision_off_the_stamp() -> None:
    assert stamp_resolution(stamp("2026-11-25T10:00:00Z")).total_seconds() == 1
    assert stamp_resolution(stamp("2026-11-25T10:00:00.297Z")).total_seconds() == 0.001
    assert stamp_resolution(stamp("2026-11-25T10:00:00.2971234Z")).total_seconds() == 0.000001


def test_missing_stamps() -> None:
    present = stamp("2026-11-25T10:00:00Z")
    assert later_side(None, present) is Side.CRM
    assert later_side(present, None) is Side.ERP
    assert later_side(None, None) is None


PHONE = TableMapping(
    name="PHONES",
    erp_entity="customers",
    crm_entity="accounts",
    direction=MappingDirection.BIDIRECTIONAL,
    fields=(FieldMapping("phoneNumber", "telephone1"),),
    conflict_policy=ConflictPolicy.LATEST_WINS,
)
AGREED = {"erp": {"phoneNumber": "0"}, "crm": {"telephone1": "0"}}


@pytest.mark.parametrize(
    ("erp_at", "crm_at", "winner"),
    [
        ("2026-11-25T10:00:00.900Z", "2026-11-25T10:00:01Z", Side.CRM),
        ("2026-11-25T10:00:01.100Z", "2026-11-25T10:00:00Z", Side.ERP),
        ("2026-11-25T10:00:00Z", "2026-11-25T10:00:00.500Z", LATEST_WINS_TIE),  # tie: the ERP
        ("2026-11-25T10:00:00.500Z", "2026-11-25T10:00:00Z", LATEST_WINS_TIE),
    ],
)
def test_a_latest_wins_conflict_takes_the_provably_later_edit_and_the_erp_on_a_tie(
    erp_at: str, crm_at: str, winner: Side
) -> None:
    outcome = reconcile(
        PHONE,
        erp={"phoneNumber": "ERP-1"},
        crm={"telephone1": "CRM-1"},
        last_synced=AGREED,
        lookups=LookupTable(),
        erp_modified=stamp(erp_at),
        crm_modified=stamp(crm_at),
    )
    if winner is Side.ERP:
        assert (outcome.crm_changes, outcome.erp_changes) == ({"telephone1": "ERP-1"}, {})
    else:
        assert (outcome.crm_changes, outcome.erp_changes) == ({}, {"phoneNumber": "CRM-1"})
    assert LATEST_WINS_TIE is Side.ERP  # the documented rule (docs/admin.md)
