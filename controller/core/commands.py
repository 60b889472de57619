"""Commands: what people and devices ask the hall to do. Plain data, validated by `decide`.

Identity never arrives here in clear: the shell hashes an ID or phone number with the
hall's key before building `IssueTicket`, so nothing downstream can leak it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IssueTicket:
    ticket_id: str
    category: str
    channel: str
    priority: str | None = None
    identity_hash: str | None = None


@dataclass(frozen=True, slots=True)
class CallNext:
    window: int


@dataclass(frozen=True, slots=True)
class Recall:
    window: int


@dataclass(frozen=True, slots=True)
class NoShow:
    window: int


@dataclass(frozen=True, slots=True)
class Complete:
    window: int
    case_no: str | None = None
    item_code: str | None = None
    credit_code: str | None = None  # 企业办事: the applicant company (GB 32100)


@dataclass(frozen=True, slots=True)
class Transfer:
    window: int
    reason: str
    to_category: str | None = None
    to_window: int | None = None


@dataclass(frozen=True, slots=True)
class Suspend:
    window: int


@dataclass(frozen=True, slots=True)
class CallBack:
    window: int
    ticket_id: str


@dataclass(frozen=True, slots=True)
class OpenWindow:
    window: int


@dataclass(frozen=True, slots=True)
class PauseWindow:
    window: int
    reason: str


@dataclass(frozen=True, slots=True)
class ResumeWindow:
    window: int


@dataclass(frozen=True, slots=True)
class CloseWindow:
    window: int


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passing: ends yesterday's queue and returns suspended tickets when due."""


@dataclass(frozen=True, slots=True)
class CreateAppointment:
    appointment_id: str
    category: str
    slot_start: float
    slot_end: float
    identity_hash: str
    source: str = "api"


@dataclass(frozen=True, slots=True)
class CancelAppointment:
    appointment_id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CheckIn:
    """Turning a booked appointment into a ticket, by ID swipe / typed identity or by id."""

    ticket_id: str
    identity_hash: str | None = None
    appointment_id: str | None = None
    channel: str = "kiosk"


@dataclass(frozen=True, slots=True)
class PublishNotice:
    notice_id: str
    text: str
    until: float | None = None


@dataclass(frozen=True, slots=True)
class WithdrawNotice:
    notice_id: str


@dataclass(frozen=True, slots=True)
class Evaluate:
    """A citizen's rating of a service (5.4.3): of a ticket, or of the case it became.

    `pad_window`: set when a window's pad rates, which may only rate that window's last
    completed service."""

    evaluation_id: str
    level: int
    channel: str
    ticket_id: str | None = None
    case_no: str | None = None
    reasons: tuple[str, ...] = ()
    comment: str | None = None
    pad_window: int | None = None
    # The citizen chose not to be named: the review report carries no ID number or name,
    # whatever the ticket was taken with.
    anonymous: bool = False


@dataclass(frozen=True, slots=True)
class RecordReport:
    """What the review system answered for an evaluation: delivered, or parked on a 4xx."""

    evaluation_id: str
    delivered: bool
    status: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class RetryReport:
    """A supervisor sends a parked evaluation report again."""

    evaluation_id: str


@dataclass(frozen=True, slots=True)
class FromCloud:
    """A command from the cloud platform, applied at most once by its id.

    Its outcome (applied, or rejected with a reason) is itself an event, so a re-sent
    command is recognised after a restart too and answered with the first outcome.
    """

    command_id: str
    kind: str
    inner: Command
    expires_at: float | None = None


class ModuleCommand:
    """Base of the commands a core module owns (`engine.register_command`): the engine
    dispatches them by type, without this file knowing them."""

    __slots__ = ()


WindowCommand = (
    CallNext | Recall | NoShow | Complete | Transfer | Suspend | CallBack
    | OpenWindow | PauseWindow | ResumeWindow | CloseWindow
)
HallCommand = (
    IssueTicket | CreateAppointment | CancelAppointment | CheckIn | PublishNotice
    | WithdrawNotice | Evaluate | RecordReport | RetryReport
)
Command = HallCommand | WindowCommand | Tick | FromCloud | ModuleCommand
