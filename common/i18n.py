"""Text kept as data in both languages (the catalogue's names, the indicators' names): the one the
active language reads. Interface text goes through gettext instead (docs/i18n.md); a choice's label
by value, `choice_label`, is the one way to name a stored choice on a page."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language


def english() -> bool:
    return (get_language() or "").startswith("en")


def in_language(zh: str, en: str) -> str:
    """The English of a pair when the request reads English and there is one; else the Chinese."""
    return en if en and english() else zh


def choice_label(choices: type[models.Choices], value: str) -> str:
    """A choice's label in the active language, or the value itself when it is none of them (a
    code sent by a feed). One lookup: get_FOO_display hashes every label of the set (a gettext
    each) on every call, hundreds of times on a page of rows."""
    try:
        return str(choices(value).label)
    except ValueError:
        return value
