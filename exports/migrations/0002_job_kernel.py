from django.db import migrations, models


class Migration(migrations.Migration):
    """ExportJob on the job kernel (common/jobs.py): a `cancelled` state; stored states unchanged."""

    dependencies = [
        ("exports", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="exportjob",
            name="heartbeat_at",
            field=models.DateTimeField(
                blank=True, help_text="last sign of life: queued, claimed, progress", null=True
            ),
        ),
        migrations.AlterField(
            model_name="exportjob",
            name="rows_done",
            field=models.PositiveIntegerField(default=0, verbose_name="已处理行数"),
        ),
        migrations.AlterField(
            model_name="exportjob",
            name="state",
            field=models.CharField(
                choices=[
                    ("queued", "排队中"),
                    ("running", "导出中"),
                    ("failed", "失败"),
                    ("cancelled", "已取消"),
                    ("done", "已完成"),
                    ("expired", "已过期"),
                ],
                default="queued",
                max_length=12,
                verbose_name="状态",
            ),
        ),
        migrations.AlterField(
            model_name="exportjob",
            name="worker",
            field=models.CharField(
                blank=True, help_text="host:pid of the process running the job", max_length=128
            ),
        ),
    ]
