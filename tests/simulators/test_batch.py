"""Batches: BC JSON batch (<=100, stop at first failure, Isolation: snapshot rolls back) and
Dataverse multipart/mixed (<=1,000, atomic change sets, Content-ID references)."""

from __future__ import annotations

import json
import uuid

import httpx

from .fixtures import ACCOUNT_1, COMPANY, CUST_1

ROOT = f"companies({COMPANY})"


def _post(i: int) -> dict[str, object]:
    return {
        "id": f"r{i}",
        "method": "POST",
        "url": f"{ROOT}/customers",
        "headers": {"Content-Type": "application/json"},
        "body": {"number": f"B{i:05d}", "displayName": f"Batch {i}"},
    }


async def _count(bc: httpx.AsyncClient) -> int:
    return int((await bc.get(f"{ROOT}/customers/$count")).text)


async def test_json_batch_runs_in_order(bc: httpx.AsyncClient) -> None:
    requests = [
        _post(1),
        {"id": "g", "method": "GET", "url": f"{ROOT}/customers?$filter=number%20eq%20'B00001'"},
        {
            "id": "p",
            "method": "PATCH",
            "url": f"/v2.0/demo/production/api/v2.0/{ROOT}/customers({CUST_1})",
            "headers": {"If-Match": "*"},
            "body": {"city": "Bern"},
        },
    ]
    response = await bc.post("$batch", json={"requests": requests})
    assert response.status_code == 200
    answers = response.json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [("r1", 201), ("g", 200), ("p", 200)]
    assert answers[1]["body"]["value"][0]["displayName"] == "Batch 1"
    assert answers[2]["body"]["city"] == "Bern"


async def test_json_batch_stops_at_first_failure_without_rollback(bc: httpx.AsyncClient) -> None:
    before = await _count(bc)
    bad = {
        "id": "bad",
        "method": "PATCH",
        "url": f"{ROOT}/customers({CUST_1})",
        "body": {"city": "x"},
    }  # no If-Match
    response = await bc.post("$batch", json={"requests": [_post(1), bad, _post(2)]})
    answers = response.json()["responses"]
    assert [a["status"] for a in answers] == [201, 428]
    assert await _count(bc) == before + 1


async def test_json_batch_with_isolation_snapshot_rolls_back(bc: httpx.AsyncClient) -> None:
    before = await _count(bc)
    bad = {"id": "bad", "method": "POST", "url": f"{ROOT}/customers", "body": {"nope": 1}}
    response = await bc.post(
        "$batch", json={"requests": [_post(1), _post(2), bad]}, headers={"Isolation": "snapshot"}
    )
    assert [a["status"] for a in response.json()["responses"]] == [201, 201, 400]
    assert await _count(bc) == before
    ok = await bc.post("$batch", json={"requests": [_post(3), _post(4)]}, headers={"Isolation": "snapshot"})
    assert [a["status"] for a in ok.json()["responses"]] == [201, 201]
    assert await _count(bc) == before + 2


async def test_json_batch_limit_is_100(bc: httpx.AsyncClient) -> None:
    too_many = await bc.post("$batch", json={"requests": [_post(i) for i in range(101)]})
    assert too_many.status_code == 400
    assert "error" in too_many.json()
    fine = await bc.post("$batch", json={"requests": [_post(i) for i in range(100)]})
    assert fine.status_code == 200
    assert len(fine.json()["responses"]) == 100


def _part(method: str, url: str, body: object | None = None, content_id: str | None = None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    text = f"{head}\r\n{method} {url} HTTP/1.1\r\n"
    if body is not None:
        text += f"Content-Type: application/json\r\n\r\n{json.dumps(body)}\r\n"
    else:
        text += "Accept: application/json\r\n\r\n"
    return text


def _batch(items: list[str | list[str]]) -> tuple[str, str]:
    boundary = f"batch_{uuid.uuid4()}"
    out = []
    for item in items:
        if isinstance(item, list):
            cs = f"changeset_{uuid.uuid4()}"
            inner = "".join(f"--{cs}\r\n{part}" for part in item) + f"--{cs}--\r\n"
            out.append(f"--{boundary}\r\nContent-Type: multipart/mixed; boundary={cs}\r\n\r\n{inner}")
        else:
            out.append(f"--{boundary}\r\n{item}")
    return "".join(out) + f"--{boundary}--\r\n", boundary


def _statuses(response: httpx.Response) -> list[int]:
    return [int(line.split()[1]) for line in response.text.splitlines() if line.startswith("HTTP/1.1 ")]


async def _accounts(dv: httpx.AsyncClient) -> int:
    return int((await dv.get("accounts/$count")).text)


async def test_multipart_batch_with_change_set_and_reference(dv: httpx.AsyncClient) -> None:
    root = "https://sim.test/api/data/v9.2/"
    body, boundary = _batch(
        [
            [
                _part("POST", f"{root}accounts", {"name": "In change set"}, "1"),
                _part("PATCH", "$1", {"telephone1": "555"}, "2"),
            ],
            _part("GET", f"{root}accounts?$select=name&$filter=telephone1%20eq%20'555'"),
        ]
    )
    response = await dv.post(
        "$batch", content=body, headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("multipart/mixed; boundary=batchresponse_")
    assert _statuses(response) == [204, 204, 200]
    assert "changesetresponse_" in response.text
    assert '"name":"In change set"' in response.text


async def test_multipart_change_set_is_atomic(dv: httpx.AsyncClient) -> None:
    before = await _accounts(dv)
    body, boundary = _batch(
        [
            [
                _part("POST", "/api/data/v9.2/accounts", {"name": "first"}),
                _part("POST", "accounts", {"name": "second", "bogus": 1}),
            ],
            _part("POST", "accounts", {"name": "never runs"}),
        ]
    )
    response = await dv.post(
        "$batch", content=body, headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )
    assert _statuses(response) == [400]
    assert await _accounts(dv) == before
    body, boundary = _batch(
        [
            [_part("POST", "accounts", {"name": "first", "bogus": 1})],
            _part("POST", "accounts", {"name": "runs"}),
        ]
    )
    response = await dv.post(
        "$batch",
        content=body,
        headers={
            "Content-Type": f"multipart/mixed; boundary={boundary}",
            "Prefer": "odata.continue-on-error",
        },
    )
    assert _statuses(response) == [400, 204]
    assert await _accounts(dv) == before + 1


async def test_multipart_batch_limit_is_1000(dv: httpx.AsyncClient) -> None:
    parts = [_part("GET", f"accounts({ACCOUNT_1})?$select=name") for _ in range(1001)]
    body, boundary = _batch(list(parts))
    response = await dv.post(
        "$batch", content=body, headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )
    assert response.status_code == 400
    body, boundary = _batch(list(parts[:1000]))
    response = await dv.post(
        "$batch", content=body, headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )
    assert _statuses(response) == [200] * 1000
