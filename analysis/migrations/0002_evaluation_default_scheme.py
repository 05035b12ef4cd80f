"""The default national evaluation scheme (applies from 1990, the desk's first year), over the
indicators the registry supports today; administrators edit it through the scheme page or API."""

from decimal import Decimal as D

from django.db import migrations

DEFAULT = [
    # indicator, weight, target, floor, direction
    ("inspection_rate", D(40), D(95), D(60), "higher"),
    ("overdue_rate", D(20), D(1), D(5), "lower"),
    ("accidents_per_10k", D(20), D("0.1"), D("0.5"), "lower"),
    ("deaths_per_10k", D(20), D("0.05"), D("0.3"), "lower"),
]


def load(apps, schema_editor):
    Scheme = apps.get_model("analysis", "EvaluationScheme")
    Component = apps.get_model("analysis", "SchemeComponent")
    scheme = Scheme.objects.create(
        owner="", from_year=1990, version=1, note="默认方案 / default scheme"
    )
    Component.objects.bulk_create(
        Component(
            scheme=scheme,
            position=n,
            indicator=key,
            weight=weight,
            target=target,
            floor=floor,
            direction=direction,
            rule="linear",
        )
        for n, (key, weight, target, floor, direction) in enumerate(DEFAULT)
    )


def unload(apps, schema_editor):
    apps.get_model("analysis", "EvaluationScheme").objects.filter(
        owner="", from_year=1990, version=1
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("analysis", "0001_evaluation")]
    operations = [migrations.RunPython(load, unload)]
