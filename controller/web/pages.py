"""The pages the daemon serves: hall wall, window screen, clerk console, kiosk, evaluation
pad and supervisor dashboard, as static HTML/CSS/JS from controller/web/static/.

No build step and no CDN: the files are served as they are. Pages carry no data; they
read it from the API and the WebSocket stream like any other client (docs/pages.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).resolve().parent / "static"

PAGES = {
    "/": "index.html",
    "/hall": "hall.html",
    "/window/{number}": "window.html",
    "/console": "console.html",
    "/kiosk": "kiosk.html",
    "/pad/{number}": "pad.html",
    "/dashboard": "dashboard.html",
}

# Pages change with the daemon's version: always revalidate, so a hall TV that stays on
# for months picks up an upgrade at its next reconnect-reload.
NO_CACHE = {"Cache-Control": "no-cache"}


def _page(name: str) -> Callable[[web.Request], Awaitable[web.FileResponse]]:
    path = STATIC / name

    async def handler(request: web.Request) -> web.FileResponse:
        number = request.match_info.get("number")
        if number is not None and not (number.isascii() and number.isdigit()):
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers=NO_CACHE)

    return handler


def add_page_routes(app: web.Application) -> None:
    for route, name in PAGES.items():
        app.router.add_get(route, _page(name))
    app.router.add_static("/static/", STATIC, append_version=False)
