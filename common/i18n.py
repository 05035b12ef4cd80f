"""Text kept as data in both languages (the catalogue's names, the indicators' names): the one the
active language reads. Interface text goes through gettext instead (docs/i18n.md)."""

from __future__ import annotations

from django.utils.translation import get_language


def english() -> bool:
    return (get_language() or "").startswith("en")


def in_language(zh: str, en: str) -> str:
    """The English of a pair when the request reads English and there is one; else the Chinese."""
    return en if en and english() else zh
