"""The password policy of 等保 2.0 level 3 (身份鉴别): validators for AUTH_PASSWORD_VALIDATORS.

Length is Django's MinimumLengthValidator; these add the character classes and the history. Expiry
is a date on the user (`password_changed_at`), enforced by accounts.middleware.
"""

from __future__ import annotations

import string

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError

CLASSES = (
    ("lower", str.islower),
    ("upper", str.isupper),
    ("digit", lambda c: c in string.digits),
    # Anything else counts as a symbol: punctuation, spaces, Chinese characters.
    ("symbol", lambda c: not (c.isascii() and c.isalnum())),
)


def classes_in(password: str) -> set[str]:
    return {name for name, test in CLASSES if any(test(c) for c in password)}


class CharacterClassValidator:
    """At least `min_classes` of: lower-case letters, upper-case letters, digits, symbols."""

    def __init__(self, min_classes: int = 3):
        self.min_classes = min_classes

    def validate(self, password: str, user=None) -> None:
        if len(classes_in(password)) < self.min_classes:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self) -> str:
        return (
            f"密码须包含小写字母、大写字母、数字、符号中的至少 {self.min_classes} 类 / "
            f"use at least {self.min_classes} of: lower-case letters, upper-case letters, "
            "digits, symbols"
        )


class PasswordHistoryValidator:
    """Not one of the user's last `remember` passwords; records each new one as it is set."""

    def __init__(self, remember: int = 5):
        self.remember = remember

    def _recent(self, user):
        return user.password_history.all()[: self.remember]

    def validate(self, password: str, user=None) -> None:
        if user is None or user.pk is None:
            return
        if any(check_password(password, old.password) for old in self._recent(user)):
            raise ValidationError(self.get_help_text(), code="password_reused")

    def password_changed(self, password: str, user) -> None:
        # Called by User.save() once the new hash is stored (django.contrib.auth).
        user.password_history.create(password=user.password)
        keep = list(self._recent(user).values_list("pk", flat=True))
        user.password_history.exclude(pk__in=keep).delete()

    def get_help_text(self) -> str:
        return (
            f"不能与最近 {self.remember} 次使用过的密码相同 / "
            f"must differ from your last {self.remember} passwords"
        )
