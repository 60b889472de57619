"""The hall's identity key: 32 random bytes in the data directory, readable by the daemon only.

It keys the HMAC of ID and phone numbers. Losing it only means yesterday's hashes no longer
match today's; it is never sent anywhere.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

KEY_NAME = "identity.key"


def load_or_create_key(data_dir: Path) -> bytes:
    path = data_dir / KEY_NAME
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
