"""Personal information (PIPL): national ID numbers encrypted at rest, found by keyed hash, shown masked."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet
from django.conf import settings


@cache
def _key_material() -> bytes:
    return (settings.PERSONAL_DATA_KEY or settings.SECRET_KEY).encode()


@cache
def _fernet() -> Fernet:
    return Fernet(
        base64.urlsafe_b64encode(hashlib.sha256(b"segis-fernet:" + _key_material()).digest())
    )


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode() if token else ""


def lookup_hash(value: str) -> str:
    """Equal IDs give equal hashes, so a person can be found by ID without decrypting every row."""
    if not value:
        return ""
    return hmac.new(
        b"segis-lookup:" + _key_material(), value.strip().upper().encode(), hashlib.sha256
    ).hexdigest()


def mask_national_id(value: str) -> str:
    """Keep the region (6) and the last 4 characters: 640104********123X."""
    value = value.strip().upper()
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    digits = value.strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 11 else "*" * len(digits)


def phone_for(user, phone: str) -> str:
    """The phone as this user may see it: whole for roles that read personal data, else masked."""
    return phone if user.may_read_personal_data else mask_phone(phone)
