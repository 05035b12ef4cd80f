import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """ExportJob moves from the layers app: its table stays, only Django's record of it moves."""

    initial = True

    dependencies = [
        ("layers", "0005_export_jobs"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ExportJob",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("parameters", models.JSONField(verbose_name="参数")),
                        (
                            "estimate",
                            models.PositiveIntegerField(verbose_name="预计行数"),
                        ),
                        (
                            "state",
                            models.CharField(
                                choices=[
                                    ("queued", "排队中"),
                                    ("running", "导出中"),
                                    ("done", "已完成"),
                                    ("failed", "失败"),
                                    ("expired", "已过期"),
                                ],
                                default="queued",
                                max_length=8,
                                verbose_name="状态",
                            ),
                        ),
                        (
                            "rows_done",
                            models.PositiveIntegerField(default=0, verbose_name="已导出行数"),
                        ),
                        (
                            "rows_total",
                            models.PositiveIntegerField(
                                blank=True, null=True, verbose_name="总行数"
                            ),
                        ),
                        ("error", models.TextField(blank=True, verbose_name="错误信息")),
                        (
                            "file_path",
                            models.CharField(
                                blank=True,
                                help_text="relative to EXPORT_ROOT",
                                max_length=255,
                                verbose_name="文件",
                            ),
                        ),
                        (
                            "file_name",
                            models.CharField(
                                blank=True,
                                max_length=255,
                                verbose_name="下载文件名",
                            ),
                        ),
                        ("ascii_file_name", models.CharField(blank=True, max_length=255)),
                        (
                            "file_size",
                            models.BigIntegerField(blank=True, null=True, verbose_name="文件大小"),
                        ),
                        (
                            "task_id",
                            models.CharField(
                                blank=True, help_text="the queue's task result", max_length=64
                            ),
                        ),
                        (
                            "worker",
                            models.CharField(
                                blank=True,
                                help_text="host:pid of the process running the export",
                                max_length=128,
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(auto_now_add=True, verbose_name="提交时间"),
                        ),
                        (
                            "started_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="开始时间"),
                        ),
                        (
                            "heartbeat_at",
                            models.DateTimeField(
                                blank=True, help_text="last progress report", null=True
                            ),
                        ),
                        (
                            "finished_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="结束时间"),
                        ),
                        (
                            "expires_at",
                            models.DateTimeField(blank=True, null=True, verbose_name="过期时间"),
                        ),
                        (
                            "requester",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="export_jobs",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="申请人",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "导出任务",
                        "db_table": "layers_exportjob",
                        "verbose_name_plural": "导出任务",
                        "ordering": ["-created_at", "-id"],
                        "indexes": [
                            models.Index(
                                fields=["requester", "-created_at"], name="exportjob_requester"
                            )
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    models.Q(("state", "done"), _negated=True),
                                    models.Q(("file_path", ""), _negated=True),
                                    _connector="OR",
                                ),
                                name="exportjob_done_has_file",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
