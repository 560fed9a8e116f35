"""The JSON Schemas of the admin endpoints (`gateway.web.rest_admin`): request bodies and query
parameters the routes validate against, and the response shapes, declared once for both uses.

Bodies are validated with these very schemas (jsonschema), so the OpenAPI document cannot promise
what the server refuses, nor accept what the document forbids.
"""

from __future__ import annotations

from typing import Any

from gateway.web.json_schema import Schema

DIRECTIONS = ["erp_to_crm", "crm_to_erp"]
MAPPING_DIRECTIONS = ["erp_to_crm", "crm_to_erp", "bidirectional"]
CONFLICT_POLICIES = ["erp_wins", "crm_wins", "latest_wins", "merge", "manual"]
DELETION_POLICIES = ["restore", "uncouple", "propagate", "manual"]
JOB_TYPES = ["sync", "full", "coupling", "uncoupling", "deletion_check"]
JOB_STATUSES = ["queued", "running", "success", "error", "cancelled", "abandoned"]
ERROR_STATUSES = ["open", "resolved", "ignored"]
ERROR_ACTIONS = ["retry", "force-erp", "force-crm", "restore", "uncouple", "ignore"]
COUPLING_STATES = ["coupled", "error", "conflict", "skipped", "orphaned"]
MAX_PAGE = 1000
MAX_BULK = 10


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


STRING: Schema = {"type": "string"}
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 200}
OPT_STRING = _nullable(STRING)
STRINGS: Schema = {"type": "array", "items": STRING}
COUNTS: Schema = {"type": "object", "additionalProperties": {"type": "integer"}}


def _object(properties: dict[str, Schema], *, required: tuple[str, ...] = (), closed: bool = True) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


# --------------------------------------------------------------------------------- request bodies

FIELD_PAIR = _object({"erpField": NAME, "crmField": NAME}, required=("erpField", "crmField"))
LOOKUP_INPUT = _object(
    {
        "mapping": NAME,
        "erpBy": {"enum": ["key", "id"]},
        "crmFallback": _nullable(NAME),
        "emptyIsLocalCurrency": {"type": "boolean"},
    },
    required=("mapping",),
)
FIELD_MAPPING_INPUT = _object(
    {
        "erpField": _nullable(NAME),
        "crmField": _nullable(NAME),
        "direction": {"enum": MAPPING_DIRECTIONS},
        "constant": {"type": ["string", "number", "boolean", "null"]},
        "valueMap": _nullable(
            {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]}}
        ),
        "lookup": _nullable(LOOKUP_INPUT),
        "transforms": {
            "type": "array",
            "items": {"type": "string", "pattern": "^(trim|upper|lower|non_negative|truncate:[0-9]{1,6})$"},
        },
        "required": {"type": "boolean"},
        "enabled": {"type": "boolean"},
        "crmNav": _nullable(NAME),
        "crmNavSet": _nullable(NAME),
        "label": {"type": "string", "maxLength": 200},
    },
    required=(),
)
FILTER: Schema = _nullable(
    {
        "type": "object",
        "additionalProperties": {
            "description": 'a value, a list of values (any of them) or {"not": value}',
            "anyOf": [
                {"type": ["string", "number", "boolean", "null"]},
                {"type": "array", "items": {"type": ["string", "number", "boolean", "null"]}},
                _object({"not": {"type": ["string", "number", "boolean", "null"]}}, required=("not",)),
            ],
        },
    }
)
MAPPING_PATCH = _object(
    {
        "enabled": {"type": "boolean"},
        "direction": {"enum": MAPPING_DIRECTIONS},
        "conflictPolicy": {"enum": CONFLICT_POLICIES},
        "mergeFallback": {"enum": [p for p in CONFLICT_POLICIES if p != "merge"]},
        "deletionPolicy": {"enum": DELETION_POLICIES},
        "intervalSeconds": {"type": "integer", "minimum": 1, "maximum": 86_400},
        "syncOnlyCoupled": {"type": "boolean"},
        "fields": {"type": "array", "items": FIELD_MAPPING_INPUT},
        "matchGroups": {"type": "array", "items": {"type": "array", "items": FIELD_PAIR}},
        "matchCaseSensitive": {"type": "boolean"},
        "erpFilter": FILTER,
        "crmFilter": FILTER,
    }
)
FULL_SYNC_START = _object({"mappings": {"type": "array", "items": NAME, "maxItems": 50}})
RUN_REQUEST = _object({"direction": {"enum": DIRECTIONS}})
ERROR_IDS: Schema = {
    "type": "array",
    "items": {"type": "integer", "minimum": 1, "maximum": 2**53},
    "minItems": 1,
    # Each action may run a sync (about half a second): a request stays well within a client's
    # timeout; the CLI sends longer lists in chunks.
    "maxItems": MAX_BULK,
    "uniqueItems": True,
}
ERROR_ACTIONS_REQUEST = _object(
    {"ids": ERROR_IDS, "action": {"enum": ERROR_ACTIONS}}, required=("ids", "action")
)
COUPLING_CREATE = _object(
    {
        "mapping": NAME,
        "erpId": NAME,
        "crmId": NAME,
        "erpKey": NAME,
        "crmKey": NAME,
        "synchronize": {"type": "boolean"},
    },
    required=("mapping",),
)
MATCH_REQUEST = _object(
    {
        "mapping": NAME,
        "fields": {"type": "array", "items": FIELD_PAIR, "maxItems": 20},
        "caseSensitive": {"type": "boolean"},
        "createIfNoMatch": {"type": "boolean"},
        "dryRun": {"type": "boolean"},
    },
    required=("mapping",),
)
BC_NOTIFICATION = _object(
    {
        "subscriptionId": {"type": "string", "maxLength": 200},
        "clientState": {"type": "string", "maxLength": 2048},
        "expirationDateTime": {"type": "string", "maxLength": 64},
        "resource": {"type": "string", "minLength": 1, "maxLength": 2048},
        "changeType": {"type": "string", "maxLength": 64},
        "lastModifiedDateTime": {"type": "string", "maxLength": 64},
    },
    required=("clientState", "resource"),
    closed=False,  # BC may add fields; they are ignored
)
BC_NOTIFICATIONS = _object(
    {"value": {"type": "array", "items": BC_NOTIFICATION, "minItems": 1, "maxItems": 10_000}},
    required=("value",),
)

# --------------------------------------------------------------------------------- query parameters

FIRST: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}
AFTER: Schema = {"type": "string", "pattern": "^[0-9]{1,15}$"}

# --------------------------------------------------------------------------------------- responses

FIELD_MAPPING: Schema = _object(
    {
        "erpField": OPT_STRING,
        "crmField": OPT_STRING,
        "direction": STRING,
        "constant": {},
        "valueMap": _nullable({"type": "object"}),
        "lookup": _nullable({"type": "object"}),
        "transforms": STRINGS,
        "required": {"type": "boolean"},
        "enabled": {"type": "boolean"},
        "crmNav": OPT_STRING,
        "crmNavSet": OPT_STRING,
        "label": STRING,
    },
    required=("erpField", "crmField", "direction", "enabled"),
    closed=False,
)
MAPPING: Schema = _object(
    {
        "name": STRING,
        "erpEntity": STRING,
        "erpApi": STRING,
        "crmEntity": STRING,
        "direction": {"enum": MAPPING_DIRECTIONS},
        "dependencies": STRINGS,
        "erpFilter": {"type": "object"},
        "crmFilter": {"type": "object"},
        "syncOnlyCoupled": {"type": "boolean"},
        "conflictPolicy": {"enum": CONFLICT_POLICIES},
        "mergeFallback": {"enum": CONFLICT_POLICIES},
        "deletionPolicy": {"enum": DELETION_POLICIES},
        "intervalSeconds": {"type": "integer"},
        "enabled": {"type": "boolean"},
        "matchGroups": {"type": "array", "items": {"type": "array", "items": {"type": "object"}}},
        "matchCaseSensitive": {"type": "boolean"},
        "erpKeyFields": STRINGS,
        "crmKeyFields": STRINGS,
        "erpNumberPrefix": STRING,
        "description": STRING,
        "fields": {"type": "array", "items": FIELD_MAPPING},
    },
    required=("name", "erpEntity", "crmEntity", "direction", "enabled", "fields"),
    closed=False,
)
MAPPINGS = _object({"items": {"type": "array", "items": MAPPING}}, required=("items",), closed=False)
RUN_SUMMARY: Schema = _object(
    {
        "mapping": STRING,
        "direction": STRING,
        "type": STRING,
        "jobIds": STRINGS,
        "status": STRING,
        "counts": COUNTS,
        "message": OPT_STRING,
    },
    required=("mapping", "direction", "type", "jobIds", "status", "counts"),
    closed=False,
)
RUNS = _object({"runs": {"type": "array", "items": RUN_SUMMARY}}, required=("runs",), closed=False)
REVIEW_JOB = _object(
    {
        "status": {"enum": ["blank", "in process", "success", "error"]},
        "done": {"type": "integer"},
        "total": {"type": "integer"},
        "jobId": OPT_STRING,
        "counts": _nullable(COUNTS),
    },
    required=("status", "done", "total", "jobId"),
    closed=False,
)
REVIEW_LINE = _object(
    {
        "mapping": STRING,
        "enabled": {"type": "boolean"},
        "direction": STRING,
        "dependencies": STRINGS,
        "recommendation": {"enum": ["full synchronization", "couple records", "no records"]},
        "records": _object({"erp": {"type": "integer"}, "crm": {"type": "integer"}}, closed=False),
        "jobs": {"type": "object", "additionalProperties": REVIEW_JOB},
        "selected": {"type": "boolean"},
    },
    required=("mapping", "dependencies", "recommendation", "jobs"),
    closed=False,
)
REVIEW = _object(
    {"running": {"type": "boolean"}, "lines": {"type": "array", "items": REVIEW_LINE}},
    required=("running", "lines"),
    closed=False,
)
JOB: Schema = _object(
    {
        "id": STRING,
        "mapping": STRING,
        "direction": STRING,
        "type": {"enum": JOB_TYPES},
        "status": {"enum": JOB_STATUSES},
        "createdAt": OPT_STRING,
        "startedAt": OPT_STRING,
        "finishedAt": OPT_STRING,
        "counts": COUNTS,
        "total": {"type": "integer"},
        "message": OPT_STRING,
    },
    required=("id", "mapping", "direction", "type", "status", "counts"),
    closed=False,
)
JOBS = _object({"items": {"type": "array", "items": JOB}}, required=("items",), closed=False)
JOB_ERROR: Schema = _object(
    {
        "id": {"type": "integer"},
        "jobId": STRING,
        "mapping": STRING,
        "erpId": OPT_STRING,
        "crmId": OPT_STRING,
        "erpKey": OPT_STRING,
        "crmKey": OPT_STRING,
        "field": OPT_STRING,
        "reason": STRING,
        "cause": STRINGS,
        "actions": {"type": "array", "items": {"enum": ERROR_ACTIONS}},
        "status": {"enum": ERROR_STATUSES},
        "createdAt": OPT_STRING,
        "resolvedAt": OPT_STRING,
    },
    required=("id", "jobId", "mapping", "reason", "actions", "status"),
    closed=False,
)
JOB_DETAIL: Schema = {
    "allOf": [
        JOB,
        _object({"errors": {"type": "array", "items": JOB_ERROR}}, required=("errors",), closed=False),
    ]
}
PAGE_INFO: Schema = _object(
    {"hasNextPage": {"type": "boolean"}, "endCursor": OPT_STRING},
    required=("hasNextPage", "endCursor"),
)


def page(item: Schema) -> Schema:
    return _object(
        {"items": {"type": "array", "items": item}, "pageInfo": PAGE_INFO},
        required=("items", "pageInfo"),
        closed=False,
    )


ERROR_ACTION_RESULT = _object(
    {
        "error": {"type": "integer"},
        "action": STRING,
        "status": {"enum": ERROR_STATUSES},
        "run": {"anyOf": [RUN_SUMMARY, {"type": "array", "items": RUN_SUMMARY}]},
        "openErrors": {
            "type": "array",
            "description": "the record's errors still open afterwards (a retry that failed again "
            "resolves the retried error and opens a new one); `new`: opened since the action began",
            "items": _object(
                {"id": {"type": "integer"}, "reason": STRING, "new": {"type": "boolean"}},
                required=("id", "reason", "new"),
            ),
        },
        "problem": STRING,
    },
    required=("error", "action"),
    closed=False,
)
ERROR_ACTION_RESULTS = _object(
    {"results": {"type": "array", "items": ERROR_ACTION_RESULT}}, required=("results",), closed=False
)
COUPLING: Schema = _object(
    {
        "id": {"type": "integer"},
        "mapping": STRING,
        "erpId": STRING,
        "crmId": STRING,
        "erpKey": OPT_STRING,
        "crmKey": OPT_STRING,
        "state": {"enum": COUPLING_STATES},
        "skipped": {"type": "boolean"},
        "lastSynced": {"type": "object"},
        "erpModifiedAt": OPT_STRING,
        "crmModifiedAt": OPT_STRING,
        "updatedAt": OPT_STRING,
        "run": RUN_SUMMARY,
    },
    required=("id", "mapping", "erpId", "crmId", "state"),
    closed=False,
)
_NAMED = _object({"id": STRING, "name": STRING}, closed=False)
MATCH_REPORT = _object(
    {
        "mapping": STRING,
        "dryRun": {"type": "boolean"},
        "pairs": {
            "type": "array",
            "items": _object(
                {
                    "erpId": STRING,
                    "erpKey": OPT_STRING,
                    "crmId": STRING,
                    "crmKey": OPT_STRING,
                    "erpName": STRING,
                    "crmName": STRING,
                },
                required=("erpId", "crmId"),
                closed=False,
            ),
        },
        "ambiguous": {
            "type": "array",
            "items": _object(
                {
                    "side": {"enum": ["erp", "crm"]},
                    "id": STRING,
                    "name": STRING,
                    "candidates": {"type": "array", "items": _NAMED},
                },
                required=("side", "id", "candidates"),
                closed=False,
            ),
        },
        "noMatch": _object({"erp": STRINGS, "crm": STRINGS}, required=("erp", "crm"), closed=False),
        "jobIds": STRINGS,
        "status": {"enum": ["success", "error"]},
        "message": OPT_STRING,
    },
    required=("mapping", "dryRun", "pairs", "ambiguous", "noMatch"),
    closed=False,
)
WEBHOOK_RESULT = _object(
    {"accepted": {"type": "integer"}, "woken": {"type": "array", "items": _object({}, closed=False)}},
    required=("accepted", "woken"),
    closed=False,
)


def schema_fn(schema: Schema) -> Any:
    """An `Operation.response` for a hand-written schema (the registry is not needed)."""
    return lambda _registry: schema
