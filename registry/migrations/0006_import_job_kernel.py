from django.db import migrations, models
from django.db.models import F


def finished_at_from_outcomes(apps, schema_editor):
    """Jobs that ended before the kernel get the end it now records: their outcome's time, or
    their last sign of life for a failed one."""
    jobs = apps.get_model("registry", "ImportJob").objects
    jobs.filter(state="committed").update(finished_at=F("committed_at"))
    jobs.filter(state="validated").update(finished_at=F("validated_at"))
    jobs.filter(state="failed").update(finished_at=F("heartbeat_at"))


class Migration(migrations.Migration):
    """ImportJob on the job kernel (common/jobs.py): the worker that runs it and when a run started
    and ended are recorded, and a job may be cancelled; stored states unchanged."""

    dependencies = [
        ("registry", "0005_imports"),
    ]

    operations = [
        migrations.AddField(
            model_name="importjob",
            name="finished_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="结束时间"),
        ),
        migrations.AddField(
            model_name="importjob",
            name="started_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="开始时间"),
        ),
        migrations.AddField(
            model_name="importjob",
            name="worker",
            field=models.CharField(
                blank=True, help_text="host:pid of the process running the job", max_length=128
            ),
        ),
        migrations.AlterField(
            model_name="importjob",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True, help_text="last sign of life: queued, claimed, progress", null=True
            ),
        ),
        migrations.AlterField(
            model_name="importjob",
            name="state",
            field=models.CharField(
                choices=[
                    ("queued", "排队中"),
                    ("validating", "校验中"),
                    ("committing", "入库中"),
                    ("failed", "失败"),
                    ("cancelled", "已取消"),
                    ("uploaded", "已上传"),
                    ("validated", "已校验"),
                    ("committed", "已入库"),
                ],
                default="uploaded",
                max_length=12,
                verbose_name="状态",
            ),
        ),
        migrations.RunPython(finished_at_from_outcomes, migrations.RunPython.noop),
    ]
