"""Appointments (预约) and check-in (签到): booked slots that become priority tickets.

A citizen books a slot (through the cloud platform, or the hall's own API); on arrival they
swipe their ID card or type its number at the kiosk inside [start - early, end + late] and
get a ticket in the appointment priority group. Outside that window the hall either
refuses with the reason or gives a walk-in ticket (`appointments.outside_slot`). A booking
never checked in becomes a no-show once its window has passed.
"""

from __future__ import annotations

from controller.config.model import HallConfig, OutsideSlot
from controller.core import commands as c
from controller.core import events as ev
from controller.core.clock import business_day, local
from controller.core.errors import Refusal, invalid, not_found
from controller.core.events import Event
from controller.core.identity import scrub
from controller.core.state import Appointment, AppointmentStatus, HallState

DAY_S = 24 * 3600.0


def window_of(cfg: HallConfig, a: Appointment) -> tuple[float, float]:
    """The check-in window: from `early_min` before the slot to `late_min` after it."""
    rules = cfg.appointments
    return a.slot_start - rules.early_min * 60.0, a.slot_end + rules.late_min * 60.0


def create(state: HallState, cfg: HallConfig, cmd: c.CreateAppointment, now: float
           ) -> list[Event]:
    category = cfg.categories.get(cmd.category)
    if category is None:
        raise invalid("unknown_category", f"no business category {cmd.category!r}")
    if cmd.appointment_id in state.appointments:
        raise Refusal("duplicate_appointment", f"appointment {cmd.appointment_id} exists already")
    if cmd.slot_end <= cmd.slot_start:
        raise invalid("bad_slot", "the slot must end after it starts")
    if cmd.slot_end - cmd.slot_start > DAY_S:
        raise invalid("bad_slot", "a slot lies within one day")
    if cmd.slot_end + cfg.appointments.late_min * 60.0 < now:
        raise Refusal("slot_past", "the slot is over")
    if cmd.slot_start > now + cfg.appointments.max_days_ahead * DAY_S:
        raise Refusal("slot_too_far",
                      f"appointments are taken up to {cfg.appointments.max_days_ahead} days ahead")
    return [Event(ev.APPOINTMENT_CREATED, {
        "appointment_id": cmd.appointment_id,
        "category": category.prefix,
        "slot_start": cmd.slot_start,
        "slot_end": cmd.slot_end,
        "business_day": business_day(cmd.slot_start, cfg.day),
        "identity_hash": cmd.identity_hash,
        "source": cmd.source,
    })]


def cancel(state: HallState, cfg: HallConfig, cmd: c.CancelAppointment, now: float
           ) -> list[Event]:
    a = state.appointments.get(cmd.appointment_id)
    if a is None:
        raise not_found("appointment", f"no appointment {cmd.appointment_id}")
    if a.status is not AppointmentStatus.BOOKED:
        raise Refusal("appointment_not_booked", f"the appointment is {a.status.value}")
    data: dict[str, object] = {"appointment_id": a.id}
    if cmd.reason:
        data["reason"] = scrub(cmd.reason)  # the event goes up and out on the stream
    return [Event(ev.APPOINTMENT_CANCELLED, data)]


def find_for_check_in(state: HallState, cfg: HallConfig, cmd: c.CheckIn, now: float
                      ) -> tuple[Appointment, bool]:
    """The appointment this check-in is for, and whether `now` is inside its window.

    By identity: among today's booked appointments of that person, one whose window holds
    now, else the nearest one today (so that the refusal can say when to come).
    """
    if cmd.appointment_id is not None:
        a = state.appointments.get(cmd.appointment_id)
        if a is None or (cmd.identity_hash is not None and a.identity_hash != cmd.identity_hash):
            raise not_found("appointment", "no such appointment")
        if a.status is not AppointmentStatus.BOOKED:
            raise Refusal("appointment_not_booked", f"the appointment is {a.status.value}")
        day = business_day(a.slot_start, cfg.day)
        if day != business_day(now, cfg.day):
            # Another day's booking is never used up here, even where early or late
            # arrivals get a walk-in ticket: that is for today's (as by identity).
            raise Refusal(
                "not_today",
                f"the appointment is on {day}, {local(a.slot_start, cfg.day):%H:%M}-"
                f"{local(a.slot_end, cfg.day):%H:%M}: check in on that day")
        start, end = window_of(cfg, a)
        return a, start <= now <= end
    if cmd.identity_hash is None:
        raise invalid("missing_identity", "give an identity or an appointment id")
    today = business_day(now, cfg.day)
    mine = [a for a in state.booked.values()
            if a.identity_hash == cmd.identity_hash
            and business_day(a.slot_start, cfg.day) == today]
    if not mine:
        raise not_found("appointment", "no appointment today for this person")
    for a in sorted(mine, key=lambda x: x.slot_start):
        start, end = window_of(cfg, a)
        if start <= now <= end:
            return a, True
    return min(mine, key=lambda x: min(abs(x.slot_start - now), abs(x.slot_end - now))), False


def check_in_events(cfg: HallConfig, a: Appointment, inside: bool, ticket_id: str, now: float,
                    issued: list[Event]) -> list[Event]:
    return issued + [Event(ev.APPOINTMENT_CHECKED_IN, {
        "appointment_id": a.id, "ticket_id": ticket_id, "late": not inside,
    })]


def refuse_outside(cfg: HallConfig, a: Appointment) -> Refusal:
    start, end = window_of(cfg, a)
    return Refusal(
        "outside_slot",
        f"check-in for this appointment is open from {local(start, cfg.day):%H:%M} "
        f"to {local(end, cfg.day):%H:%M}",
    )


def wants_walk_in(cfg: HallConfig) -> bool:
    return cfg.appointments.outside_slot is OutsideSlot.WALK_IN


def no_shows(state: HallState, cfg: HallConfig, now: float) -> list[Event]:
    out = []
    for a in state.booked.values():
        if window_of(cfg, a)[1] < now:
            out.append(Event(ev.APPOINTMENT_NO_SHOW, {"appointment_id": a.id,
                                                      "category": a.category}))
    return out
