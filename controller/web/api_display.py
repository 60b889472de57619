"""Display content over HTTP: the hall wall, window screens, and small public helpers for
the pages (evaluation reasons, a token's own role, the QR code of a printed ticket).

Everything here except /api/whoami is public and free of personal data: the same content a
citizen can read on the wall. Handlers only read the projection; nothing is written.
"""

from __future__ import annotations

import io

import segno
from aiohttp import web

from controller.core.clock import iso
from controller.core.state import Ticket, TicketStatus
from controller.core.views import estimated_wait_min, waiting_ahead_scan
from controller.display.compose import hall_display, window_display
from controller.web.api import Hall, Route, _hall, _window_number, json_response
from controller.web.auth import ANY_ROLE
from controller.web.errors import ApiError


async def get_hall_display(request: web.Request) -> web.Response:
    hall = _hall(request)
    return json_response(hall_display(hall.writer.state, hall.cfg, hall.writer.clock()))


async def get_window_display(request: web.Request) -> web.Response:
    hall = _hall(request)
    number = _window_number(request)
    return json_response(window_display(hall.writer.state, hall.cfg, number))


async def get_window_displays(request: web.Request) -> web.Response:
    hall = _hall(request)
    return json_response({"windows": [window_display(hall.writer.state, hall.cfg, n)
                                      for n in hall.cfg.windows]})


async def get_kiosk(request: web.Request) -> web.Response:
    """What the ticket machine offers: categories with their queues, and the priority
    groups a citizen may choose (the appointment group is reached by check-in only)."""
    hall = _hall(request)
    cfg, state = hall.cfg, hall.writer.state
    return json_response({
        "hall_name": cfg.hall_name,
        "now": iso(hall.writer.clock(), cfg.day),  # the page's clock shows the hall's time
        "categories": [{"prefix": p, "name": c.name,
                        "waiting": len(state.waiting.get(p, {})),
                        "estimated_wait_min": estimated_wait_min(
                            state, cfg, p, len(state.waiting.get(p, {}))),
                        "issued_today": state.issued_today.get(p, 0),
                        "daily_quota": c.daily_quota}
                       for p, c in cfg.categories.items()],
        "priority_groups": [{"name": g.name, "label": g.label} for g in cfg.priorities
                            if g.name != cfg.appointments.priority_group],
    })


async def get_evaluation_reasons(request: web.Request) -> web.Response:
    hall = _hall(request)
    return json_response({
        "levels": [{"level": 5, "name": "非常满意"}, {"level": 4, "name": "满意"},
                   {"level": 3, "name": "基本满意"}, {"level": 2, "name": "不满意"},
                   {"level": 1, "name": "非常不满意"}],
        "reasons_for": [2, 1],
        "reasons": [{"code": r.code, "label": r.label} for r in hall.cfg.evaluation_reasons],
    })


async def whoami(request: web.Request) -> web.Response:
    """A page signing in with a token learns what it is for (role, window)."""
    hall = _hall(request)
    who = await hall.auth.require(request, ANY_ROLE)
    return json_response({"role": who.role.value, "window": who.window})


def _public_ticket(request: web.Request) -> tuple[Hall, Ticket]:
    hall = _hall(request)
    ticket = hall.writer.state.tickets.get(request.match_info["ticket_id"])
    if ticket is None:
        raise ApiError(404, "ticket_not_found", "no such ticket")
    return hall, ticket


async def get_public_ticket(request: web.Request) -> web.Response:
    """Where a ticket stands, for the phone that scanned its QR code: number and place only.
    The id is a random UUIDv7 printed only on the ticket itself."""
    hall, t = _public_ticket(request)
    waiting = t.status is TicketStatus.WAITING
    return json_response({
        "number": t.number,
        "category_name": hall.cfg.categories[t.category].name,
        "status": t.status.value,
        "waiting_ahead": waiting_ahead_scan(hall.writer.state, hall.cfg, t) if waiting else 0,
        "window": t.window if t.status is TicketStatus.CALLED else None,
    })


async def get_ticket_qr(request: web.Request) -> web.Response:
    """The QR code printed on a ticket, as SVG: the ticket's public status URL."""
    _, t = _public_ticket(request)
    url = f"{request.scheme}://{request.host}/api/display/tickets/{t.id}"
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="svg", scale=4, border=2,
                                                  xmldecl=False)
    return web.Response(body=out.getvalue(), content_type="image/svg+xml",
                        headers={"Cache-Control": "max-age=86400"})


def display_routes() -> list[Route]:
    return [
        Route("GET", "/api/display/hall", get_hall_display,
              "Hall wall content: current calls, waiting per category, notices, advice", None),
        Route("GET", "/api/display/windows", get_window_displays,
              "Every window screen's content", None),
        Route("GET", "/api/display/windows/{number}", get_window_display,
              "One window screen's content", None),
        Route("GET", "/api/display/tickets/{ticket_id}", get_public_ticket,
              "A ticket's public status (what its QR code opens): number, state, people ahead",
              None),
        Route("GET", "/api/display/tickets/{ticket_id}/qr.svg", get_ticket_qr,
              "The QR code printed on a ticket (SVG)", None),
        Route("GET", "/api/display/kiosk", get_kiosk,
              "What the ticket machine offers: categories, queues, priority groups", None),
        Route("GET", "/api/evaluation-reasons", get_evaluation_reasons,
              "The five levels and the reasons a low rating may give", None),
        Route("GET", "/api/whoami", whoami, "The role and window of the calling token",
              ANY_ROLE),
    ]
