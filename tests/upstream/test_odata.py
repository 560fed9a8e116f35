"""OData literals, key segments and query strings: what goes on the wire for awkward values."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from gateway.upstream.odata import (
    Query,
    entity_path,
    in_filter,
    key_segment,
    odata_literal,
    parse_datetime,
)

GUID = "5F0C1A2B-3C4D-4E5F-8A9B-0C1D2E3F4A5B"


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (-7, "-7"),
        (Decimal("1E+3"), "1000"),
        (Decimal("0.00001"), "0.00001"),
        (1.5, "1.5"),
        ("plain", "'plain'"),
        ("O'Brien", "'O''Brien'"),
        ("''", "''''''"),
        ("Zoë & Co #1", "'Zoë & Co #1'"),
        (uuid.UUID(GUID), GUID.lower()),
        (GUID, f"'{GUID}'"),  # a str stays a string: no guessing in filters
        (date(2026, 11, 25), "2026-11-25"),
        (datetime(2026, 11, 25, 10, 30, tzinfo=UTC), "2026-11-25T10:30:00Z"),
        (
            datetime(2026, 11, 25, 11, 30, 0, 500, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-25T10:30:00.000500Z",
        ),
    ],
)
def test_literals(value: object, literal: str) -> None:
    assert odata_literal(value) == literal


@pytest.mark.parametrize("value", [datetime(2026, 1, 1), float("nan"), Decimal("Infinity"), object()])
def test_values_without_a_literal_are_refused(value: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        odata_literal(value)


def test_in_filter_quotes_each_value() -> None:
    assert in_filter("itemNumber", ["1000", "O'1"]) == "itemNumber in ('1000','O''1')"
    assert in_filter("itemNumber", ["O'1"]) == "itemNumber eq 'O''1'"
    with pytest.raises(ValueError):
        in_filter("itemNumber", [])


def test_key_segments() -> None:
    assert key_segment(GUID) == f"({GUID.lower()})"
    assert key_segment(uuid.UUID(GUID)) == f"({GUID.lower()})"
    assert key_segment(17) == "(17)"
    assert key_segment("C10000") == "('C10000')"
    assert key_segment({"accountnumber": "O'Neil & Sons/1"}) == "(accountnumber='O''Neil%20%26%20Sons%2F1')"
    assert key_segment({"a": 1, "b": "x y"}) == "(a=1,b='x%20y')"
    assert entity_path("accounts", {"accountnumber": "Zoë"}) == "accounts(accountnumber='Zo%C3%AB')"
    assert entity_path("accounts") == "accounts"
    with pytest.raises(ValueError):
        key_segment({})


def test_query_encodes_spaces_as_percent_20_and_keeps_odata_syntax() -> None:
    query = Query(
        filter="name eq 'A & B + C' and city in ('Zürich','x')",
        select=["id", "name"],
        orderby=["name desc", "id"],
        expand=["lines"],
        top=5,
        skip=10,
        count=True,
    )
    assert query.encode() == (
        "$filter=name%20eq%20'A%20%26%20B%20%2B%20C'%20and%20city%20in%20('Z%C3%BCrich','x')"
        "&$select=id,name&$orderby=name%20desc,id&$expand=lines&$top=5&$skip=10&$count=true"
    )
    assert "+" not in query.encode()
    assert Query().encode() == ""


def test_parse_datetime_accepts_dotnet_precision() -> None:
    assert parse_datetime("2026-11-25T10:00:00.1234567Z") == datetime(
        2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_datetime("2026-11-25T10:00:00Z") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert parse_datetime("2026-11-25T11:00:00+01:00") == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert parse_datetime("garbage") is None
    assert parse_datetime(None) is None
