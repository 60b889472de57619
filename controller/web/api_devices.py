"""GET /api/devices: every device of the hall with its status and, for displays, what it
should be showing. Public like /api/windows: no person appears in it, only numbers."""

from __future__ import annotations

from aiohttp import web

from controller.web.api import Route, _hall, json_response


async def get_devices(request: web.Request) -> web.Response:
    from controller.devices.manager import running

    hall = _hall(request)
    manager = running(hall.writer)
    devices = manager.status() if manager is not None else []
    return json_response({"devices": devices})


def device_routes() -> list[Route]:
    return [Route("GET", "/api/devices", get_devices,
                  "Each device: kind, status (online/offline/degraded), last seen, last error, "
                  "and what a display should show", None)]
