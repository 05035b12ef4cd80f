"""Identity (等保 2.0 身份鉴别): password age and history, and API tokens kept as digests.

DRF's authtoken table held keys in clear: each becomes a digest here (the clients keep working,
for SEGIS_API_TOKEN_DAYS from now) and the clear keys are deleted."""

import datetime as dt
import hashlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def forward(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    PasswordHistory = apps.get_model("accounts", "PasswordHistory")
    ApiToken = apps.get_model("accounts", "ApiToken")
    # The current password is the first of each history (an unusable one starts with "!").
    PasswordHistory.objects.bulk_create(
        PasswordHistory(user_id=pk, password=password)
        for pk, password in User.objects.exclude(password__startswith="!").values_list(
            "pk", "password"
        )
    )
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('authtoken_token') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return
        cursor.execute("SELECT key, user_id FROM authtoken_token")
        rows = cursor.fetchall()
        expires = django.utils.timezone.now() + dt.timedelta(days=settings.SEGIS_API_TOKEN_DAYS)
        ApiToken.objects.bulk_create(
            ApiToken(
                user_id=user_id, digest=hashlib.sha256(key.encode()).hexdigest(), expires_at=expires
            )
            for key, user_id in rows
        )
        cursor.execute("DELETE FROM authtoken_token")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="password_changed_at",
            field=models.DateTimeField(
                default=django.utils.timezone.now, verbose_name="密码修改时间"
            ),
        ),
        migrations.CreateModel(
            name="PasswordHistory",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "password",
                    models.CharField(max_length=128, verbose_name="密码摘要"),
                ),
                (
                    "set_at",
                    models.DateTimeField(auto_now_add=True, verbose_name="设置时间"),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="password_history",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "历史密码",
                "verbose_name_plural": "历史密码",
                "ordering": ["-set_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "digest",
                    models.CharField(max_length=64, unique=True, verbose_name="摘要"),
                ),
                (
                    "created",
                    models.DateTimeField(auto_now_add=True, verbose_name="生成时间"),
                ),
                ("expires_at", models.DateTimeField(verbose_name="到期时间")),
                (
                    "revoked_at",
                    models.DateTimeField(blank=True, null=True, verbose_name="吊销时间"),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "API 令牌",
                "verbose_name_plural": "API 令牌",
                "indexes": [
                    models.Index(
                        fields=["user", "revoked_at"], name="accounts_ap_user_id_f995a6_idx"
                    )
                ],
            },
        ),
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
