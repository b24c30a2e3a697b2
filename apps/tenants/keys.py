"""API keys in Dify's form: ``app-<24 random chars>`` and ``dataset-<24 random chars>``.

Only a SHA-256 digest is stored. Keys carry about 143 random bits, so a plain (unsalted) digest
is safe against guessing and lets authentication find the row with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import string

KEY_TYPES = ("app", "dataset")
_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 24


def generate_key(key_type: str) -> str:
    if key_type not in KEY_TYPES:
        raise ValueError(f"unknown key type {key_type!r}")
    return f"{key_type}-" + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def key_type_of(raw_key: str) -> str | None:
    prefix = raw_key.split("-", 1)[0]
    return prefix if prefix in KEY_TYPES and "-" in raw_key else None


def display_prefix(raw_key: str) -> str:
    """What the admin and console show after creation, e.g. ``app-AbCd…``."""
    kind, _, rest = raw_key.partition("-")
    return f"{kind}-{rest[:4]}…"
