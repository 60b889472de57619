"""A morning's traffic for sync tests: tickets issued, called and completed over HTTP."""

from __future__ import annotations

import asyncio

from tests.conftest import Api

CATEGORIES = "ABCDEFGH"
WINDOW_FOR = {"A": 1, "B": 4, "C": 7, "D": 8, "E": 9, "F": 11, "G": 13, "H": 15}


async def open_windows(api: Api) -> None:
    for number in set(WINDOW_FOR.values()):
        status, body = await api.window(number, "open")
        assert status == 200, body


async def morning(api: Api, tickets: int, concurrency: int = 16) -> int:
    """Issues `tickets` tickets and serves most of them; returns requests answered 2xx."""
    answered = 0
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        nonlocal answered
        category = CATEGORIES[i % len(CATEGORIES)]
        async with sem:
            await api.issue(category)
            answered += 1
            if i % 3 != 2:
                status, _ = await api.window(WINDOW_FOR[category], "call-next")
                assert status == 200
                answered += 1

    await asyncio.gather(*(one(i) for i in range(tickets)))
    return answered
