"""The hall's keys: 32 random bytes each in the data directory, readable by the daemon only.

`identity.key` keys the HMAC of ID and phone numbers: losing it only means yesterday's
hashes no longer match today's. `seal.key` encrypts the ID numbers held for the review
system until their report is acknowledged (store/sealed.py): losing it only means those
reports go anonymous. Neither is ever sent anywhere.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_NAME = "identity.key"
SEAL_KEY_NAME = "seal.key"


def load_or_create_key(data_dir: Path, name: str = KEY_NAME) -> bytes:
    path = data_dir / name
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, key)
            os.fsync(fd)
        finally:
            os.close(fd)
    if len(key) != 32:
        raise ValueError(f"{path} must hold 32 bytes, not {len(key)}")
    return key
