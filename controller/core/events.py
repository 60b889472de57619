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

# Payload keys that are pseudonymous identifiers: kept in the log (per-person limits are
# rebuilt from it) but never shown on a public stream or page.
PRIVATE_KEYS = frozenset({"identity_hash"})


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    data: dict[str, Any]


def public_data(data: dict[str, Any]) -> dict[str, Any]:
    """The payload without pseudonymous identifiers, for streams and unauthenticated reads."""
    if PRIVATE_KEYS.isdisjoint(data):
        return data
    return {k: v for k, v in data.items() if k not in PRIVATE_KEYS}
