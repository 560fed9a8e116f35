"""Dataverse change tracking: a deltaLink returns rows changed since its token, then deletions.

Tokens carry the org-wide version at the time they were issued; every answer hands out a fresh one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from .errors import ODataError
from .options import QueryOptions
from .store import VERSION_COLUMN
from .wire import ODataResponse

if TYPE_CHECKING:
    from .reading import Reader


def _parse(token: str) -> int:
    version, _, _stamp = token.partition("!")
    try:
        return int(version)
    except ValueError:
        raise ODataError(400, "BadRequest", f"The delta token '{token}' is not valid.") from None


def delta_response(reader: Reader, options: QueryOptions) -> ODataResponse:
    from .reading import delta_token

    assert options.deltatoken is not None
    since = _parse(options.deltatoken)
    store = reader.store
    entity_set = reader.target.entity_set
    table = reader.table
    now_version = store.current_version
    changed = store.conn.execute(
        sa.select(table)
        .where(*reader.target.conditions, table.c[VERSION_COLUMN] > since)
        .order_by(table.c[VERSION_COLUMN])
    ).mappings()
    value: list[dict[str, Any]] = [reader.serialize(entity_set, dict(row), options.select) for row in changed]
    tomb = store.tombstones
    deleted = store.conn.execute(
        sa.select(tomb.c.entity_id)
        .where(tomb.c.set_name == entity_set.name, tomb.c.version > since)
        .order_by(tomb.c.version)
    ).scalars()
    root = reader.request.service_root
    for entity_id in deleted:
        value.append(
            {
                "@odata.context": f"{root}$metadata#{entity_set.name}/$deletedEntity",
                "id": entity_id,
                "reason": "deleted",
            }
        )
    context = reader.flavor.context_url(
        root, reader.target.scope, f"{entity_set.name}", select=options.select, entity=False
    )
    payload = {
        "@odata.context": f"{context}/$delta",
        "value": value,
        "@odata.deltaLink": reader._link("$deltatoken", delta_token(now_version)),
    }
    return ODataResponse(200, payload=payload, headers={"Preference-Applied": "odata.track-changes"})
