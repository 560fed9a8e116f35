"""The two `$batch` wire formats: what we send and how we read per-operation answers back."""

from __future__ import annotations

import json

import pytest

from gateway.upstream.batch import (
    BatchOperation,
    decode_json_batch,
    decode_multipart_batch,
    encode_json_batch,
    encode_multipart_batch,
    group_operations,
    split_multipart,
)

OPS = [
    BatchOperation("POST", "accounts", body={"name": "Zoë & Co"}),
    BatchOperation(
        "PATCH", "accounts(accountnumber='A1')", body={"name": "x"}, headers={"If-Match": 'W/"1"'}
    ),
    BatchOperation("GET", "accounts?$top=1"),
    BatchOperation("DELETE", "accounts(5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b)"),
]


def test_json_batch_request_shape() -> None:
    payload = encode_json_batch(OPS)
    requests = payload["requests"]
    assert [r["id"] for r in requests] == ["1", "2", "3", "4"]
    assert requests[0] == {
        "id": "1",
        "method": "POST",
        "url": "accounts",
        "headers": {"Content-Type": "application/json"},
        "body": {"name": "Zoë & Co"},
    }
    assert requests[1]["headers"]["If-Match"] == 'W/"1"'
    assert "body" not in requests[2] and "headers" not in requests[2]


def test_json_batch_results_follow_ids_not_order() -> None:
    payload = {
        "responses": [
            {"id": "2", "status": 412, "body": {"error": {"code": "Precondition", "message": "stale"}}},
            {"id": "1", "status": 201, "headers": {"ETag": 'W/"7"'}, "body": {"id": "n"}},
        ]
    }
    results = decode_json_batch(payload, count=3, offset=100)
    assert [r.index for r in results] == [100, 101, 102]
    assert results[0].ok and results[0].etag == 'W/"7"' and results[0].body == {"id": "n"}
    assert (
        results[1].status == 412
        and results[1].error_code == "Precondition"
        and results[1].error_message == "stale"
    )
    assert results[2].status == 424 and not results[2].ok


@pytest.mark.parametrize(
    "payload", [None, {"value": []}, {"responses": [{"id": "9", "status": 200}]}, {"responses": [1]}]
)
def test_json_batch_garbage_is_refused(payload: object) -> None:
    with pytest.raises(ValueError):
        decode_json_batch(payload, count=1, offset=0)


def test_grouping_keeps_reads_out_of_change_sets() -> None:
    assert group_operations(OPS, atomic=True) == [[0, 1], [2], [3]]
    assert group_operations(OPS, atomic=False) == [[0], [1], [2], [3]]


def test_multipart_request_is_well_formed() -> None:
    body, content_type, groups = encode_multipart_batch(
        OPS, service_root="https://org.example/api/data/v9.2/", atomic=True, boundary="batch_X"
    )
    assert content_type == "multipart/mixed; boundary=batch_X"
    text = body.decode()
    assert text.endswith("--batch_X--\r\n")
    parts = split_multipart(body, "batch_X")
    assert len(parts) == 3
    changeset_type = parts[0].header("content-type") or ""
    assert changeset_type.startswith("multipart/mixed; boundary=changeset_")
    inner = split_multipart(parts[0].content, changeset_type.split("boundary=")[1])
    assert [p.header("content-id") for p in inner] == ["1", "2"]
    first = inner[0].content.decode()
    assert first.startswith("POST https://org.example/api/data/v9.2/accounts HTTP/1.1\r\n")
    assert first.endswith('\r\n\r\n{"name": "Zoë & Co"}')
    assert 'If-Match: W/"1"' in inner[1].content.decode()
    assert (
        parts[1].content.decode().startswith("GET https://org.example/api/data/v9.2/accounts?$top=1 HTTP/1.1")
    )
    assert groups == [[0, 1], [2], [3]]


def _http(status_line: str, body: object | None = None, headers: str = "") -> str:
    text = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n"
    text += f"{status_line}\r\n{headers}"
    if body is None:
        return text + "\r\n"
    return text + "Content-Type: application/json\r\n\r\n" + json.dumps(body)


def test_multipart_response_per_operation_and_failed_change_set() -> None:
    groups = [[0, 1], [2], [3]]
    error = {"error": {"code": "0x80040237", "message": "duplicate"}}
    body = (
        "--batchresponse_1\r\n"
        + _http("HTTP/1.1 400 Bad Request", error)  # a failed change set answers once for all its members
        + "\r\n--batchresponse_1\r\n"
        + _http("HTTP/1.1 200 OK", {"value": [{"accountid": "a"}]}, headers='ETag: W/"5"\r\n')
        + "\r\n--batchresponse_1--\r\n"
    )
    results = decode_multipart_batch(
        body.encode(),
        content_type="multipart/mixed; boundary=batchresponse_1",
        groups=groups,
        count=4,
        offset=0,
    )
    assert [r.status for r in results] == [400, 400, 200, 424]
    assert results[0].error_code == "0x80040237" and results[1].error_message == "duplicate"
    assert results[2].etag == 'W/"5"' and results[2].body == {"value": [{"accountid": "a"}]}


def test_multipart_change_set_response_matched_by_content_id() -> None:
    inner = (
        "--changesetresponse_9\r\nContent-Type: application/http\r\nContent-ID: 2\r\n\r\n"
        "HTTP/1.1 204 No Content\r\n\r\n"
        "\r\n--changesetresponse_9\r\nContent-Type: application/http\r\nContent-ID: 1\r\n\r\n"
        'HTTP/1.1 201 Created\r\nETag: W/"3"\r\nContent-Type: application/json\r\n\r\n{"accountid": "new"}'
        "\r\n--changesetresponse_9--"
    )
    body = (
        "--b\r\nContent-Type: multipart/mixed; boundary=changesetresponse_9\r\n\r\n" + inner + "\r\n--b--\r\n"
    ).encode()
    results = decode_multipart_batch(
        body, content_type='multipart/mixed; boundary="b"', groups=[[0, 1]], count=2, offset=5
    )
    assert [(r.index, r.status, r.etag) for r in results] == [(5, 201, 'W/"3"'), (6, 204, None)]
    assert results[0].body == {"accountid": "new"}


def test_multipart_garbage_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_multipart_batch(b"nonsense", content_type="application/json", groups=[[0]], count=1, offset=0)
    with pytest.raises(ValueError):
        decode_multipart_batch(
            b"--b\r\nContent-Type: application/http\r\n\r\nnot http\r\n--b--",
            content_type="multipart/mixed; boundary=b",
            groups=[[0]],
            count=1,
            offset=0,
        )


def test_batch_chunks_never_exceed_the_service_limits() -> None:
    from gateway.upstream.batch import BatchFormat
    from gateway.upstream.client import BATCH_LIMITS

    assert BATCH_LIMITS == {BatchFormat.JSON: 100, BatchFormat.MULTIPART: 1_000}
