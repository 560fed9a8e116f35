"""In-memory SQLite storage for one simulator instance: a table per entity set, row versions, tombstones.

All access happens on the event loop thread, serialized, so one shared connection is safe (StaticPool).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from .model import EntitySet, ServiceModel
from .values import column_type, from_json

COMPANY_COLUMN = "sim_company"
VERSION_COLUMN = "sim_version"


def _enable_savepoints(engine: sa.Engine) -> None:
    """pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")


class Store:
    """Tables for every entity set of a model, plus the org-wide version counter and deletions log."""

    def __init__(self, model: ServiceModel, *, clock: Any, seeded_at: float) -> None:
        self.model = model
        self._clock = clock
        # Seed rows without their own stamps get this time (the simulator's creation), not the
        # clock's: every /_sim/reset then restores exactly the same rows.
        self._seeded_at = seeded_at
        self.engine = sa.create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        _enable_savepoints(self.engine)
        self.metadata = sa.MetaData()
        self.tables: dict[str, sa.Table] = {}
        stored: list[sa.Table] = []
        for entity_set in model.sets:
            table = self._table_for(entity_set)
            self.tables[entity_set.name] = table
            if not entity_set.computed:
                stored.append(table)
        self.tombstones = sa.Table(
            "sim_tombstones",
            self.metadata,
            sa.Column("set_name", sa.String, nullable=False),
            sa.Column("entity_id", sa.String, nullable=False),
            sa.Column("version", sa.Integer, nullable=False, index=True),
        )
        stored.append(self.tombstones)
        self.conn = self.engine.connect()
        self.metadata.create_all(self.conn, tables=stored)
        self.conn.commit()
        self._version = 1000
        self._last_stamp = datetime(2000, 1, 1)
        self.load_warnings: list[str] = []

    def _table_for(self, entity_set: EntitySet) -> sa.Table:
        columns: list[sa.Column[Any]] = []
        for prop in entity_set.props:
            columns.append(
                sa.Column(
                    prop.name,
                    column_type(prop),
                    primary_key=prop.name in entity_set.key and not entity_set.computed,
                )
            )
        if not entity_set.computed:
            columns.append(sa.Column(VERSION_COLUMN, sa.Integer, nullable=False, default=0))
        if entity_set.company_scoped:
            columns.append(sa.Column(COMPANY_COLUMN, sa.String(36), index=True))
        indexes = [
            sa.Index(f"ix_{entity_set.name}_{'_'.join(alt)}", *alt)
            for alt in entity_set.alternate_keys
            if not entity_set.computed
        ]
        return sa.Table(entity_set.name, self.metadata, *columns, *indexes)

    # -- clocks ---------------------------------------------------------------------------------

    def next_version(self) -> int:
        """Org-wide, strictly increasing (Dataverse versionnumber, BC etag counter)."""
        self._version += 1
        return self._version

    def clock(self) -> float:
        return float(self._clock())

    @property
    def current_version(self) -> int:
        return self._version

    def now(self) -> datetime:
        """Naive UTC now, strictly increasing by at least 1 ms so delta reads by timestamp never tie."""
        return self._stamp(self._clock())

    def _seed_stamp(self) -> datetime:
        """The stamp of a seed row: from the seed time, still strictly increasing (as now())."""
        return self._stamp(self._seeded_at)

    def _stamp(self, seconds: float) -> datetime:
        now = datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
        now = now.replace(microsecond=(now.microsecond // 1000) * 1000)
        if now <= self._last_stamp:
            now = self._last_stamp + timedelta(milliseconds=1)
        self._last_stamp = now
        return now

    # -- transactions ---------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """Outermost call commits; nested calls are savepoints (batch change sets roll back alone)."""
        if self.conn.in_transaction():
            with self.conn.begin_nested():
                yield self.conn
        else:
            with self.conn.begin():
                yield self.conn

    # -- loading --------------------------------------------------------------------------------

    def load(
        self,
        set_name: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        company: str | None = None,
        trusted: bool = False,
    ) -> None:
        """Bulk insert JSON-shaped rows; unknown keys are dropped and remembered in load_warnings.

        ``trusted`` rows hold only strings and numbers already in stored form (bulk filler), which
        skips per-value validation: 100,000 rows must load in about a second.
        """
        entity_set = self.model.get(set_name)
        if entity_set is None:
            self.load_warnings.append(f"no entity set {set_name}")
            return
        table = self.tables[set_name]
        names = list(entity_set.prop_names)
        columns = [*names, VERSION_COLUMN] + ([COMPANY_COLUMN] if entity_set.company_scoped else [])
        stamps = [n for n in ("lastModifiedDateTime", "modifiedon", "createdon") if n in names]
        has_version = "versionnumber" in names
        unknown: set[str] = set()
        converted: list[dict[str, Any]] = []
        if trusted and rows:
            # Filler rows share one shape: insert only their columns (the rest stay NULL), stamped once.
            present = [n for n in names if n in rows[0]]
            columns = [*present, VERSION_COLUMN, *[n for n in stamps if n not in present]]
            columns += [COMPANY_COLUMN] if entity_set.company_scoped else []
            loaded_at = self._seed_stamp()
            fixed: dict[str, Any] = {n: loaded_at for n in stamps if n not in present}
            if entity_set.company_scoped:
                fixed[COMPANY_COLUMN] = company
            for row in rows:
                version = self.next_version()
                extra: dict[str, Any] = {
                    VERSION_COLUMN: version,
                    **({"versionnumber": version} if has_version else {}),
                }
                converted.append({**row, **fixed, **extra})
            if has_version and "versionnumber" not in columns:
                columns.append("versionnumber")
            self._insert_many(table, columns, converted)
            return
        for row in rows:
            out: dict[str, Any] = dict.fromkeys(names)
            for key, value in row.items():
                prop = entity_set.prop(key)
                if prop is None:
                    unknown.add(key)
                elif trusted or value is None:
                    out[key] = value
                else:
                    out[key] = from_json(prop, value)
            # Seeded Dataverse versions are kept (they grow with modifiedon across the org); the
            # counter then continues above the highest one. Other rows get fresh versions.
            seeded = out.get("versionnumber")
            if isinstance(seeded, int):
                out[VERSION_COLUMN] = seeded
                self._version = max(self._version, seeded)
            else:
                out[VERSION_COLUMN] = self.next_version()
                if has_version:
                    out["versionnumber"] = out[VERSION_COLUMN]
            if "createdon" in out and out["createdon"] is None:
                # A seeded row was created no later than it was last modified; keeps resets identical.
                out["createdon"] = out.get("modifiedon")
            for stamp_name in stamps:
                if out[stamp_name] is None:
                    out[stamp_name] = self._seed_stamp()
                elif out[stamp_name] > self._last_stamp:
                    # Later writes must sort after every seeded stamp, or delta reads would miss them.
                    self._last_stamp = out[stamp_name]
            if entity_set.company_scoped:
                out[COMPANY_COLUMN] = company
            converted.append(out)
        if unknown:
            self.load_warnings.append(f"{set_name}: ignored unknown fields {sorted(unknown)}")
        if converted:
            self._insert_many(table, columns, converted)

    def _insert_many(self, table: sa.Table, columns: list[str], rows: list[dict[str, Any]]) -> None:
        """executemany on the driver with SQLAlchemy's own bind processors: far less per-row work."""
        dialect = self.engine.dialect
        processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
        tuples = [
            tuple(
                proc(row[name]) if proc is not None and row[name] is not None else row[name]
                for name, proc in zip(columns, processors, strict=True)
            )
            for row in rows
        ]
        quoted = ", ".join(f'"{name}"' for name in columns)
        marks = ", ".join("?" for _ in columns)
        with self.transaction() as conn:
            # Table and column names come from our model, values travel as parameters.
            statement = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})'  # noqa: S608
            conn.exec_driver_sql(statement, tuples)
