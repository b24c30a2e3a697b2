"""Encryption at rest for workspace secrets (provider credentials, tool credentials).

Keys come from ``CREDENTIALS_ENCRYPTION_KEYS`` (Fernet keys, newest first, so keys can be
rotated: new values use the first, old values still decrypt with the others). Without it a
key is derived from SECRET_KEY with HKDF.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from apps.core.errors import AppError


class SecretDecryptError(AppError):
    code = "credentials_decrypt_failed"
    status = 500


@lru_cache(maxsize=4)
def _cipher(keys: tuple[str, ...], secret_key: str) -> MultiFernet:
    if keys:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"dify-credentials", info=b"fernet"
    ).derive(secret_key.encode())
    return MultiFernet([Fernet(base64.urlsafe_b64encode(derived))])


def _current() -> MultiFernet:
    return _cipher(tuple(settings.CREDENTIALS_ENCRYPTION_KEYS), settings.SECRET_KEY)


def encrypt_json(value: dict[str, Any]) -> str:
    return _current().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        data = json.loads(_current().decrypt(token.encode()))
    except InvalidToken as exc:
        raise SecretDecryptError(
            "stored credentials cannot be decrypted with the configured key "
            "(CREDENTIALS_ENCRYPTION_KEYS or SECRET_KEY changed?); enter them again"
        ) from exc
    if not isinstance(data, dict):
        raise SecretDecryptError("stored credentials are not an object")
    return data


def mask_secret(value: str) -> str:
    """``sk-abcdef123456`` -> ``sk-a********3456``; short values are fully masked."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * min(len(value) - 8, 12) + value[-4:]
