"""Exchange between a provincial and the national instance (issue 7).

A provincial instance keeps the change log (ChangeEntry, with its head ChangeLogHead); the national
instance keeps, per province, where it has got to (ExchangePeer), which of its records stand for
which provincial record (ExchangeLink) and what it refused to apply (ExchangeConflict).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

GENESIS_HASH = "0" * 64


class ChangeOperation(models.TextChoices):
    CREATE = "create", _("新增")
    UPDATE = "update", _("修改")
    DELETE = "delete", _("删除")


class ChangeEntry(models.Model):
    """One write in this instance: which record, what was done, and the record as it then stood.

    `seq` is gap-free and `hash` chains every entry to the one before, so the national side
    notices a missing, altered or replayed entry. The payload is JSON kept as the text
    json_build_object wrote (cheaper to build than jsonb, and that text is what the hash covers and
    the feed serves); the time is hashed in UTC.
    """

    seq = models.BigIntegerField(_("序号"), primary_key=True)
    # No index but the seq: the feed reads by seq only, and every index slows the bulk insert.
    at = models.DateTimeField(_("时间"))
    operation = models.CharField(_("操作"), max_length=8, choices=ChangeOperation.choices)
    model = models.CharField(_("对象类型"), max_length=32)
    object_pk = models.BigIntegerField(_("对象"))
    division_code = models.CharField(_("区划代码"), max_length=6)
    payload = models.TextField(_("快照"))
    hash = models.CharField(_("链式哈希"), max_length=64)

    class Meta:
        verbose_name = _("变更记录")
        verbose_name_plural = _("变更日志")
        ordering = ["seq"]
        permissions = [("read_change_feed", _("读取变更推送"))]

    def __str__(self) -> str:
        return f"#{self.seq} {self.operation} {self.model}#{self.object_pk}"


class ChangeLogHead(models.Model):
    """The log's last sequence number and hash: one row, locked by every writer until it commits,
    which is what keeps the sequence gap-free and the chain a single line."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)

    class Meta:
        verbose_name = _("变更日志头")
        verbose_name_plural = pgettext_lazy("plural", "变更日志头")
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="changelog_head_single")
        ]

    def __str__(self) -> str:
        return f"#{self.last_seq}"


class PullState(models.TextChoices):
    NEVER = "never", _("未拉取")
    OK = "ok", _("正常")
    GAP = "gap", _("序号缺失")
    TAMPERED = "tampered", _("校验失败")
    ERROR = "error", _("连接或服务错误")


class ExchangePeer(models.Model):
    """A provincial instance the national one pulls from, and how far it has got."""

    code = models.CharField(_("省级区划代码"), max_length=6, unique=True)
    name = models.CharField(_("名称"), max_length=64, blank=True)
    base_url = models.URLField(_("地址"))
    # The API token the province issued to the national service account; sent, never shown.
    token = models.CharField(_("令牌"), max_length=64)
    applied_seq = models.BigIntegerField(_("已应用序号"), default=0)
    last_hash = models.CharField(_("最后哈希"), max_length=64, default=GENESIS_HASH)
    state = models.CharField(
        _("拉取状态"),
        max_length=12,
        choices=PullState.choices,
        default=PullState.NEVER,
    )
    last_pull_at = models.DateTimeField(_("最近拉取"), null=True, blank=True)
    last_message = models.TextField(_("最近结果"), blank=True)

    class Meta:
        verbose_name = _("交换对端")
        verbose_name_plural = pgettext_lazy("plural", "交换对端")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()

    @property
    def prefix(self) -> str:
        """Division codes this province may send: its two leading digits."""
        return self.code[:2]


class ExchangeLink(models.Model):
    """This instance's record `local_pk` stands for the province's record `origin_pk`."""

    peer = models.ForeignKey(ExchangePeer, on_delete=models.CASCADE, related_name="links")
    model = models.CharField(max_length=32)
    origin_pk = models.BigIntegerField()
    local_pk = models.BigIntegerField()
    # False when the record was already here (a unit another province or the nation registered
    # first): the link resolves references to it, but this province's snapshots do not overwrite it.
    owned = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("交换对应")
        verbose_name_plural = pgettext_lazy("plural", "交换对应")
        constraints = [
            models.UniqueConstraint(
                fields=["peer", "model", "origin_pk"], name="exchange_link_origin"
            )
        ]
        indexes = [models.Index(fields=["model", "local_pk"], name="exchange_link_local")]

    def __str__(self) -> str:
        return f"{self.peer_id}:{self.model}#{self.origin_pk} → {self.local_pk}"


class ConflictKind(models.TextChoices):
    OUTSIDE_PROVINCE = "outside_province", _("区划不属于该省")
    DUPLICATE_KEY = "duplicate_key", _("代码已被占用")
    MISSING_REFERENCE = "missing_reference", _("引用的记录不存在")
    NOT_FOUND = "not_found", _("记录不存在")
    INVALID = "invalid", _("数据无效")


class ExchangeConflict(models.Model):
    """An entry the national side did not apply, and why: a person decides, nothing is overwritten."""

    peer = models.ForeignKey(ExchangePeer, on_delete=models.CASCADE, related_name="conflicts")
    seq = models.BigIntegerField(_("序号"))
    kind = models.CharField(_("类型"), max_length=20, choices=ConflictKind.choices)
    operation = models.CharField(_("操作"), max_length=8, choices=ChangeOperation.choices)
    model = models.CharField(_("对象类型"), max_length=32)
    origin_pk = models.BigIntegerField(_("源对象"))
    division_code = models.CharField(_("区划代码"), max_length=6, db_index=True)
    message = models.TextField(_("说明"))
    payload = models.JSONField(_("快照"), default=dict)
    detected_at = models.DateTimeField(_("发现时间"), auto_now_add=True)
    resolved = models.BooleanField(_("已处理"), default=False)

    class Meta:
        verbose_name = _("交换冲突")
        verbose_name_plural = pgettext_lazy("plural", "交换冲突")
        ordering = ["peer", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["peer", "seq"], name="exchange_conflict_once")
        ]

    def __str__(self) -> str:
        return f"{self.peer_id} #{self.seq} {self.kind}"
