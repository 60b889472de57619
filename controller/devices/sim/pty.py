"""A pseudo-terminal standing in for a serial port, behind a stable symlink.

The simulator keeps the master side; the controller opens the slave through the symlink.
`close()` pulls the plug (the controller's reads fail), `reopen()` plugs in a new pty under
the same name, as a USB-RS485 adapter re-enumerated by the kernel would appear.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import Callable
from pathlib import Path


class PtyPort:
    def __init__(self, link: Path, on_data: Callable[[bytes], None]) -> None:
        self.link = link
        self.on_data = on_data
        self.master: int | None = None
        self.slave: int | None = None
        self.received = 0

    @property
    def is_open(self) -> bool:
        return self.master is not None

    def open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo, no line editing: bytes are bytes
        os.set_blocking(master, False)
        self.master, self.slave = master, slave
        self.link.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.link.with_name(self.link.name + ".new")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        tmp.symlink_to(os.ttyname(slave))
        os.replace(tmp, self.link)
        asyncio.get_running_loop().add_reader(master, self._readable)

    def _readable(self) -> None:
        assert self.master is not None
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: nobody has the slave open right now
            return
        if data:
            self.received += len(data)
            self.on_data(data)

    def write(self, data: bytes) -> None:
        if self.master is None:
            return
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                continue
            except OSError:
                return
            view = view[n:]

    def close(self) -> None:
        if self.master is None:
            return
        asyncio.get_running_loop().remove_reader(self.master)
        for fd in (self.master, self.slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.master = self.slave = None

    def reopen(self) -> None:
        self.close()
        self.open()
