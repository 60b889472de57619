"""Visitor flow, staffing, off-peak advice, congestion alerts and supervision flags.

Flow records and flags are computed from the event log by `controller.core.flow` and
`controller.core.supervision`. One builder per running app is fed the log incrementally
(only the events since the last request), in a worker thread, under a lock; records of
finished days are kept. Alerts live in the hall state (they are events of their own).
docs/flow.md describes every figure and payload for the dashboard.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from datetime import date, timedelta
from typing import Any

from aiohttp import web

from controller.config.model import Post
from controller.core import alerts as al
from controller.core.clock import business_day, iso
from controller.core.engine import Outcome
from controller.core.flow import CounterReading, FlowBuilder, off_peak
from controller.core.staffing import POSTS, recommend
from controller.core.state import HallState, WindowStatus
from controller.core.supervision import FlagBuilder
from controller.store.tokens import Role
from controller.store.writer import Reply
from controller.web.api import (
    Hall,
    Route,
    _hall,
    _refused,
    _submit,
    json_response,
    query_date,
)
from controller.web.auth import READ_ALL_ROLES
from controller.web.body import Field, Schema, parse, read_body
from controller.web.errors import ApiError

READ_CHUNK = 5000


class FlowService:
    """The log, read incrementally into a flow builder and a flag builder."""

    # Records of finished days kept, least recently used dropped first: a dashboard looks
    # a month or two back, the off-peak advice `off_peak_weeks` (more are kept if it reads
    # more, or every request would recompute them all); any other past date is recomputed
    # from the builder, not held for ever (each record is tens of kB).
    FINISHED_KEPT = 62

    def __init__(self, hall: Hall) -> None:
        self.hall = hall
        self.flow = FlowBuilder(hall.cfg)
        self.flags = FlagBuilder(hall.cfg)
        self.lock = asyncio.Lock()
        # records of days that are over, least recently used first (a dict keeps order)
        self.finished: dict[str, dict[str, Any]] = {}
        self.kept = max(self.FINISHED_KEPT, 7 * hall.cfg.flow.off_peak_weeks)

    async def refresh(self) -> None:
        while True:
            batch = await self.hall.log.read(self.flow.last_seq, READ_CHUNK)
            if not batch:
                return
            rows = [(e.seq, e.ts, e.type, e.data, e.actor) for e in batch]
            await asyncio.to_thread(self._feed, rows)

    def _feed(self, rows: list[tuple[int, float, str, dict[str, Any], str | None]]) -> None:
        self.flow.feed(r[:4] for r in rows)
        self.flags.feed(rows)

    async def day(self, name: str) -> dict[str, Any]:
        async with self.lock:
            cached = self.finished.pop(name, None)
            if cached is not None:
                self.finished[name] = cached  # now the most recently used
                return cached
            await self.refresh()
            now = time.time()
            record = await asyncio.to_thread(self.flow.day, name, now)
            if name < business_day(now, self.hall.cfg.day):
                self.finished[name] = record
                while len(self.finished) > self.kept:
                    del self.finished[next(iter(self.finished))]
            return record

    async def flag_list(self, name: str | None) -> list[dict[str, Any]]:
        async with self.lock:
            await self.refresh()
            return self.flags.view(name, time.time())


_SERVICES: weakref.WeakKeyDictionary[web.Application, FlowService] = (
    weakref.WeakKeyDictionary())


def _service(request: web.Request) -> FlowService:
    found = _SERVICES.get(request.app)
    if found is None:
        found = _SERVICES[request.app] = FlowService(_hall(request))
    return found


def _date(request: web.Request, hall: Hall) -> str:
    return query_date(request) or business_day(time.time(), hall.cfg.day)


# ---- flow and staffing ------------------------------------------------------------------

async def get_flow(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    return json_response(await _service(request).day(_date(request, hall)))


def _open_now(hall: Hall, state: HallState) -> dict[str, int]:
    counts = {p.value: 0 for p in Post if any(w.post is p for w in hall.cfg.windows.values())}
    for number, w in hall.cfg.windows.items():
        if state.window(number).status is WindowStatus.OPEN:
            counts[w.post.value] += 1
    return counts


def _compare(recommended: dict[str, int], open_: dict[str, int]) -> list[dict[str, Any]]:
    """Per Table 1 column: recommended, open windows of that post (None where the hall
    has no window of it, e.g. online consultation), and the shortfall."""
    out = []
    for name, post in POSTS:
        have = open_.get(post) if post is not None else None
        out.append({"post": name, "window_post": post, "recommended": recommended[name],
                    "open": have,
                    "short": max(0, recommended[name] - have) if have is not None else None})
    return out


async def get_staffing(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    name = _date(request, hall)
    record = await _service(request).day(name)
    n = hall.cfg.flow.self_service_computers
    body: dict[str, Any] = {
        "date": name,
        "self_service_computers": n,
        "peak_5min": record["peak_5min"],
        "peak_at": record["peak_at"],
        "recommended": record["staffing"],
        "slots": [{"start": s["start"], "end": s["end"], "peak_5min": s["peak_5min"],
                   "posts": _compare(s["staffing"], s["windows_open"] or {})}
                  for s in record["slots"]],
        "now": None,
    }
    now = time.time()
    if name == business_day(now, hall.cfg.day):
        state = hall.writer.state
        peak = al._recent_peak(state, now)
        rec = recommend(peak, n)
        body["now"] = {
            "at": iso(now, hall.cfg.day),
            "peak_5min_last_30min": peak,
            "recommended": rec.as_dict(),
            "posts": _compare(rec.by_post(), _open_now(hall, state)),
            "windows": [{"number": num, "post": w.post.value,
                         "state": state.window(num).status.value,
                         "categories": list(w.weights)}
                        for num, w in hall.cfg.windows.items()],
        }
    return json_response(body)


async def get_off_peak(request: web.Request) -> web.Response:
    """Public: the hall wall and the kiosk show it. Only counts and averages."""
    hall = _hall(request)
    service = _service(request)
    today = date.fromisoformat(business_day(time.time(), hall.cfg.day))
    weeks = hall.cfg.flow.off_peak_weeks
    records = [await service.day((today - timedelta(days=i)).isoformat())
               for i in range(1, 7 * weeks + 1)]
    return json_response({"weeks": weeks, "until": (today - timedelta(days=1)).isoformat(),
                          **off_peak(records)})


# ---- alerts ------------------------------------------------------------------------------

async def get_alerts(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    wanted = request.query.get("state")
    if wanted is not None and wanted not in ("raised", "acknowledged", "resolved", "open"):
        raise ApiError(400, "bad_query", "state is raised, acknowledged, resolved or open")
    found = al.alerts(hall.writer.state)
    if wanted == "open":
        found = [a for a in found if a["state"] != "resolved"]
    elif wanted is not None:
        found = [a for a in found if a["state"] == wanted]
    return json_response({"alerts": [al.alert_view(hall.cfg, a) for a in found]})


ALERT_BODY: Schema = {"note": Field("string", False, "what was done, in a few words", 200)}


def _alert_action(kind: type) -> Any:
    async def handler(request: web.Request) -> web.Response:
        hall = _hall(request)
        who = await hall.auth.require(request, READ_ALL_ROLES)
        raw = await read_body(request)
        body = parse(raw, ALERT_BODY)
        alert_id = request.match_info["alert_id"][:64]
        command = kind(alert_id, who.token_id, body["note"])

        def render(state: HallState, outcome: Outcome) -> Reply:
            return _refused(outcome) or (
                200, al.alert_view(hall.cfg, al.module_state(state)["alerts"][alert_id]))

        return await _submit(request, who, command, render, raw)
    # a name of its own: the OpenAPI operationId is built from it
    handler.__name__ = "acknowledge_alert" if kind is al.AcknowledgeAlert else "resolve_alert"
    return handler


# ---- flags, counters --------------------------------------------------------------------

async def get_flags(request: web.Request) -> web.Response:
    hall = _hall(request)
    await hall.auth.require(request, READ_ALL_ROLES)
    name = _date(request, hall) if request.query.get("date") != "all" else None
    return json_response({"date": name, "flags": await _service(request).flag_list(name)})


COUNTER_BODY: Schema = {
    "counter": Field("string", True, "the counter's name, e.g. door-1", 64),
    "in": Field("integer", False, "people in since the last reading"),
    "out": Field("integer", False, "people out since the last reading"),
    "in_total": Field("integer", False, "or the counter's running total in"),
    "out_total": Field("integer", False, "and out"),
}


async def post_counter_reading(request: web.Request) -> web.Response:
    hall = _hall(request)
    who = await hall.auth.require(request, frozenset({Role.ADMIN}))
    raw = await read_body(request)
    b = parse(raw, COUNTER_BODY)
    command = CounterReading(b["counter"], b["in"], b["out"], b["in_total"], b["out_total"])

    def render(state: HallState, outcome: Outcome) -> Reply:
        return _refused(outcome) or (201, state.extra["counters"][b["counter"]] | {
            "at": iso(state.extra["counters"][b["counter"]]["at"], hall.cfg.day)})

    return await _submit(request, who, command, render, raw)


def flow_routes() -> list[Route]:
    return [
        Route("GET", "/api/flow", get_flow, "Half-hourly flow records of a day (?date=)",
              READ_ALL_ROLES),
        Route("GET", "/api/staffing", get_staffing,
              "Table 1 staffing against the windows open, per half hour and now (?date=)",
              READ_ALL_ROLES),
        Route("GET", "/api/off-peak", get_off_peak,
              "Off-peak advice (错时办事): the quietest half hours per weekday", None),
        Route("GET", "/api/alerts", get_alerts,
              "Congestion alerts, newest first (?state=raised|acknowledged|resolved|open)",
              READ_ALL_ROLES),
        Route("POST", "/api/alerts/{alert_id}/ack", _alert_action(al.AcknowledgeAlert),
              "Acknowledge a congestion alert", READ_ALL_ROLES, ALERT_BODY),
        Route("POST", "/api/alerts/{alert_id}/resolve", _alert_action(al.ResolveAlert),
              "Resolve a congestion alert", READ_ALL_ROLES, ALERT_BODY),
        Route("GET", "/api/flags", get_flags,
              "Supervision flags of a day (?date=YYYY-MM-DD or all)", READ_ALL_ROLES),
        Route("POST", "/api/counter-readings", post_counter_reading,
              "Record a people counter's reading (device layer)", frozenset({Role.ADMIN}),
              COUNTER_BODY, status=201),
    ]
