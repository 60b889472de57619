"""The hall's keys: 32 random bytes each in the data directory, readable by the daemon only.

`identity.key` keys the HMAC of ID and phone numbers: losing it only means yesterday's
hashes no longer match today's. `seal.key` encrypts the ID numbers held for the review
system until their report is acknowledged (store/sealed.py): losing it only means those
reports go anonymous. Neither is ever sent anywhere.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

from controller.store.eventlog import StoreError

KEY_NAME = "identity.key"
SEAL_KEY_NAME = "seal.key"


class KeyFileError(StoreError, ValueError):
    """A key file that is there but is not a key (`hallctl run` says so in one line)."""


def load_or_create_key(data_dir: Path, name: str = KEY_NAME) -> bytes:
    path = data_dir / name
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if os.write(fd, key) != len(key):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            os.fsync(fd)
        except OSError as exc:
            # A full disk: no empty or short key left behind to refuse the next start.
            path.unlink(missing_ok=True)
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        finally:
            os.close(fd)
    if len(key) != 32:
        raise KeyFileError(
            f"{path}: holds {len(key)} bytes, not the 32 of a hall key: restore it from the "
            "backup, or move it away for a new key (docs/operations.md says what is lost)")
    return key
