"""Reference data kept as files in registry/data, synchronised into their tables after every migrate."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from django.db import transaction

DATA_DIR = Path(__file__).resolve().parent / "data"


def sync_catalogue() -> int:
    from . import catalogue
    from .models import Variety

    rows = catalogue.entries()
    with transaction.atomic():
        # Two passes: parents and successors must exist before anything points at them.
        for entry in rows.values():
            Variety.objects.update_or_create(
                code=entry.code,
                defaults={
                    "level": entry.level,
                    "name_zh": entry.name_zh,
                    "name_en": entry.name_en,
                    "registrable": entry.registrable,
                    "geometry": entry.geometry,
                    "retired": entry.retired,
                },
            )
        for entry in rows.values():
            Variety.objects.filter(code=entry.code).update(
                parent_id=entry.parent or None, replaced_by_id=entry.replaced_by or None
            )
    return len(rows)


def sync_inspection_rules() -> int:
    from .models import InspectionRule

    with open(DATA_DIR / "inspection_rules.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with transaction.atomic():
        InspectionRule.objects.all().delete()
        InspectionRule.objects.bulk_create(
            InspectionRule(
                variety_prefix=row["variety_prefix"],
                condition=json.loads(row["condition"]),
                first=row["first"] == "true",
                interval_months=int(row["interval_months"]),
                source=row["source"],
            )
            for row in rows
        )
    return len(rows)


def sync_reference_data(**kwargs) -> None:
    sync_catalogue()
    sync_inspection_rules()
