"""The aiohttp application: API routes, the OpenAPI document and the event stream."""

from __future__ import annotations

from aiohttp import web

from controller import __version__
from controller.web.api import HALL, Hall, routes
from controller.web.body import MAX_BODY
from controller.web.errors import errors_middleware
from controller.web.openapi import document
from controller.web.stream import HUB, StreamHub, stream


def build_app(hall: Hall) -> web.Application:
    # Bodies are inflated by controller.web.body.read_body, not by aiohttp: aiohttp's failures
    # (a body that is not the gzip it claims, or br without the Brotli package) come out as
    # plain-text 500s and 400s with a traceback in the log, before any handler could answer.
    app = web.Application(middlewares=[errors_middleware], client_max_size=MAX_BODY,
                          handler_args={"auto_decompress": False})
    app[HALL] = hall
    hub = StreamHub()
    app[HUB] = hub
    hall.writer.subscribe(hub.publish)
    table = routes()
    for route in table:
        app.router.add_route(route.method, route.path, route.handler)
    spec = document(table, f"hall-controller: {hall.cfg.hall_name}", __version__)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/api/openapi.json", openapi)
    app.router.add_get("/api/stream", stream)
    from controller.web.pages import add_page_routes  # the six pages and their files

    add_page_routes(app)

    async def close_streams(app: web.Application) -> None:
        hub.close_all()

    app.on_shutdown.append(close_streams)
    return app
