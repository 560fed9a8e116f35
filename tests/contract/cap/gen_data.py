"""Writes db/data/contract-Contacts.csv: 240 deterministic rows, some with awkward strings.

Run once by a developer (`python gen_data.py`); the CSV is committed, so tests need no Python step here.
"""

from __future__ import annotations

import csv
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROWS = 240
AWKWARD = [
    "O'Brien & Sons",
    "Zoë Müller-Łukasz",
    "A+B=C?D#E",
    "100% / 50%",
    "日本語 株式会社",
    "Semi;colon, comma",
    'He said "hi"',
    "it''s doubled",
]
CITIES = ["Århus", "Zürich", "New York", "São Paulo", "L'Aquila", "Berlin"]


def main() -> None:
    rng = random.Random(20261125)
    out = Path(__file__).parent / "db" / "data" / "contract-Contacts.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow(["ID", "number", "name", "city", "born", "updated", "amount", "seq"])
        for seq in range(1, ROWS + 1):
            name = AWKWARD[seq % len(AWKWARD)] if seq % 10 == 0 else f"Contact {seq:04d}"
            writer.writerow(
                [
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                    f"C{seq:05d}",
                    name,
                    CITIES[seq % len(CITIES)],
                    (date(1950, 1, 1) + timedelta(days=rng.randrange(20_000))).isoformat(),
                    (start + timedelta(minutes=37 * seq)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    f"{rng.randrange(0, 1_000_000) / 100:.2f}",
                    seq,
                ]
            )


if __name__ == "__main__":
    main()
