"""Event names and the event record the core produces.

The core emits `Event(type, data)`; the store wraps each one in an envelope (gapless `seq`,
globally unique `id`, commit time `ts`) when it is appended. Payloads are plain JSON values
and are versioned by `PAYLOAD_VERSION`: a field is only ever added, never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PAYLOAD_VERSION = 1

TICKET_ISSUED = "ticket.issued"
TICKET_CALLED = "ticket.called"
TICKET_RECALLED = "ticket.recalled"
TICKET_NO_SHOW = "ticket.no_show"
TICKET_COMPLETED = "ticket.completed"
TICKET_SUSPENDED = "ticket.suspended"
TICKET_RETURNED = "ticket.returned"  # a suspended ticket back in the queue by itself
TICKET_CALLED_BACK = "ticket.called_back"
TICKET_TRANSFERRED = "ticket.transferred"
TICKET_EXPIRED = "ticket.expired"  # still waiting when the business day ended
WINDOW_OPENED = "window.opened"
WINDOW_PAUSED = "window.paused"
WINDOW_RESUMED = "window.resumed"
WINDOW_CLOSED = "window.closed"
APPOINTMENT_CREATED = "appointment.created"
APPOINTMENT_CANCELLED = "appointment.cancelled"
APPOINTMENT_CHECKED_IN = "appointment.checked_in"
APPOINTMENT_NO_SHOW = "appointment.no_show"
NOTICE_PUBLISHED = "notice.published"
NOTICE_WITHDRAWN = "notice.withdrawn"
EVALUATION_RECORDED = "evaluation.recorded"
EVALUATION_REPORTED = "evaluation.reported"
EVALUATION_REPORT_PARKED = "evaluation.report_parked"
EVALUATION_REPORT_RETRY = "evaluation.report_retry"
CLOUD_COMMAND_APPLIED = "cloud.command_applied"
CLOUD_COMMAND_REJECTED = "cloud.command_rejected"

ALL_TYPES = frozenset(
    {
        TICKET_ISSUED,
        TICKET_CALLED,
        TICKET_RECALLED,
        TICKET_NO_SHOW,
        TICKET_COMPLETED,
        TICKET_SUSPENDED,
        TICKET_RETURNED,
        TICKET_CALLED_BACK,
        TICKET_TRANSFERRED,
        TICKET_EXPIRED,
        WINDOW_OPENED,
        WINDOW_PAUSED,
        WINDOW_RESUMED,
        WINDOW_CLOSED,
        APPOINTMENT_CREATED,
        APPOINTMENT_CANCELLED,
        APPOINTMENT_CHECKED_IN,
        APPOINTMENT_NO_SHOW,
        NOTICE_PUBLISHED,
        NOTICE_WITHDRAWN,
        CLOUD_COMMAND_APPLIED,
        CLOUD_COMMAND_REJECTED,
        EVALUATION_RECORDED,
        EVALUATION_REPORTED,
        EVALUATION_REPORT_PARKED,
        EVALUATION_REPORT_RETRY,
    }
)

# Items, cases, follow-ups of bad ratings and complaints: applied by their own modules
# (controller/core/catalog.py, cases.py, followups.py, complaints.py; docs/cases.md).
ALL_TYPES = ALL_TYPES | frozenset({
    "catalog.updated", "case.accepted", "case.materials_supplied", "case.circulating",
    "case.approved", "case.ready", "case.pickup_ticket", "case.picked_up", "case.overdue",
    "followup.opened", "followup.step", "complaint.registered", "complaint.assigned",
    "complaint.resolved", "complaint.closed", "complaint.overdue",
})

# Payload keys kept in the log but never on a public stream or page, nor sent up over MQTT
# (stored in the event's private column): pseudonymous identifiers (per-person limits are
# rebuilt from them) and free text people type (a complaint, a note, a citizen's comment,
# the name of the staff member assigned) or an upstream wrote (the review system's answer
# to a refused report, which may quote the report back), which may hold a name or a
# number. Supervisors read them through the authenticated API; the review report reads the
# comment from the state, not from the wire.
PRIVATE_KEYS = frozenset({"identity_hash", "comment", "summary", "result", "note", "assignee",
                          "answer"})


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]


def public_data(data: dict[str, Any]) -> dict[str, Any]:
    """The payload without pseudonymous identifiers, for streams and unauthenticated reads."""
    if PRIVATE_KEYS.isdisjoint(data):
        return data
    return {k: v for k, v in data.items() if k not in PRIVATE_KEYS}
