"""The hall configuration as plain, frozen data.

Everything the pure core needs to decide a command lives here, so `decide` never reads a
file or the clock. Built only by `controller.config.loader`, which validates every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

from controller.catalog.model import CaseRules


class Landing(StrEnum):
    """Where a transferred (or auto-returned) ticket lands in its new queue."""

    FRONT = "front"
    BY_ISSUE_TIME = "by_issue_time"
    BACK = "back"


class Post(StrEnum):
    """The posts of section 5.2.1 of the standard that a window can hold."""

    GUIDE = "guide"
    CONSULT = "consult"
    INTAKE = "intake"
    CIRCULATION = "circulation"
    PICKUP = "pickup"
    ONLINE = "online"
    SELF_SERVICE = "self_service"
    COMPLAINT = "complaint"


CHANNELS: tuple[str, ...] = ("kiosk", "idcard", "sms", "appointment", "web", "staff")
DISPATCH_RULES: tuple[str, ...] = ("priority", "directed", "overdue", "ratio")


@dataclass(frozen=True, slots=True)
class Category:
    prefix: str
    name: str
    daily_quota: int
    service_level_min: int
    transfer_landing: Landing = Landing.FRONT
    per_person_daily_limit: int = 0  # 0: no limit
    default_service_min: float = 8.0


@dataclass(frozen=True, slots=True)
class Window:
    number: int
    name: str
    post: Post
    weights: dict[str, int]  # category prefix -> ratio weight, in configured order


@dataclass(frozen=True, slots=True)
class PriorityGroup:
    name: str
    label: str


@dataclass(frozen=True, slots=True)
class BusinessDay:
    timezone: ZoneInfo
    opens: time
    closes: time
    numbering_resets: time
    enforce_hours: bool


@dataclass(frozen=True, slots=True)
class QueueRules:
    recall_limit: int
    suspend_return_min: int
    dispatch: tuple[str, ...]


class OutsideSlot(StrEnum):
    """What check-in outside an appointment's window does."""

    REFUSE = "refuse"
    WALK_IN = "walk_in"


@dataclass(frozen=True, slots=True)
class AppointmentRules:
    early_min: int = 30  # check-in opens this long before the slot starts
    late_min: int = 15  # and closes this long after it ends
    outside_slot: OutsideSlot = OutsideSlot.REFUSE
    priority_group: str | None = "appointment"
    max_days_ahead: int = 7


@dataclass(frozen=True, slots=True)
class EvaluationReason:
    """A reason a citizen may give for a low rating; `code` goes into evalDetail upstream."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class ReviewSystem:
    """Fixed fields of the provincial review (好差评) reports, and the code-table mapping."""

    area_code: str = ""
    area_name: str = ""
    dept_code: str = ""  # 18-character unified social credit code
    dept_name: str = ""
    data_source: str = "133"
    # our channel -> the review system's `pf` code (Zhejiang list by default)
    channel_codes: tuple[tuple[str, str], ...] = (
        ("pad", "4"), ("keypad", "5"), ("kiosk", "5"), ("sms", "6"), ("qr", "3"),
    )
    # Real-name reports: a ticket taken with an ID number sends it as `certkeyGOV`, held
    # sealed until acknowledged (store/sealed.py); erased unreported after this long.
    real_name: bool = True
    identity_retention_h: float = 48.0
    # The values of `result` in a 2xx answer that mean "stored" (Zhejiang-style answers
    # carry `result` and `resultmsg`); empty: any 2xx is a delivery, the body unread.
    success_results: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CloudConfig:
    """The links to the cloud platform; every field optional: a hall runs without a cloud."""

    mqtt_url: str | None = None  # mqtt://host:1883 or mqtts://host:8883
    username: str | None = None
    password_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str | None = None  # default: hallctl-<hall id>
    topic_prefix: str = "hall"
    batch_max_events: int = 200
    batch_max_bytes: int = 256 * 1024  # a batch's PUBLISH at most (and the broker's limit)
    batch_linger_ms: int = 50  # new events gather this long into one batch
    max_inflight: int = 8
    session_expiry_s: int = 7 * 24 * 3600
    receipts: bool = False  # the cloud confirms stored events on .../receipts
    # With receipts: a receipt stuck this long behind the broker's acknowledgements means
    # the broker lost events after its PUBACK; they are sent again (waits double to 600 s).
    receipt_wait_s: float = 30.0
    evaluation_url: str | None = None
    evaluation_timeout_s: float = 10.0
    secret_file: Path | None = None


VOICE_BACKENDS: tuple[str, ...] = ("browser", "espeak", "segments", "none")


@dataclass(frozen=True, slots=True)
class VoiceConfig:
    """How calls are announced (`[voice]`, docs/voice.md)."""

    backend: str = "browser"  # the hall page speaks; espeak/segments play on the box
    template: str = "请{number}号到{window}号窗口办理"
    recall_template: str = "再次呼叫，请{number}号到{window}号窗口办理"
    repeat: int = 2  # each call is said this many times
    gap_ms: int = 800  # silence between the repeats and between calls
    letters: tuple[tuple[str, str], ...] = ()  # letter -> how it is read, e.g. ("A", "诶")
    espeak_voice: str = "cmn"
    espeak_speed: int = 170  # words per minute
    segments_dir: Path | None = None  # one WAV per token: 请.wav, A.wav, 零.wav ... 办理.wav
    player: tuple[str, ...] = ()  # command that plays a WAV file, e.g. ["aplay", "-q"]


@dataclass(frozen=True, slots=True)
class FlowConfig:
    """Visitor flow, staffing, congestion rules and supervision flags (`[flow]`, docs/flow.md)."""

    self_service_computers: int = 0  # N of Table 1: online staff is N/2 rounded up
    off_peak_weeks: int = 4  # off-peak advice looks at this many past weeks
    # Congestion rules are off unless the hall file turns them on (the demo hall does).
    max_waiting: int = 0  # congestion: more people waiting in the hall; 0: off
    over_service_level: bool = False  # congestion: longest wait over the category's level
    arrival_window_min: int = 15  # congestion: arrival rate measured over this
    capacity_factor: float = 1.0  # congestion: arrivals above factor x service capacity
    min_arrivals: int = 0  # ... with at least this many arrivals in that window; 0: off
    pause_limit_min: int = 20  # flag: a window paused longer than this
    service_limit_factor: float = 3.0  # flag: a service over factor x default_service_min
    transfer_limit: int = 2  # flag: a ticket transferred more often, or back again


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One device of the hall (`[[devices]]`): a model's profile wired to a port or host,
    a bus address and a window (docs/device-profiles.md). Parsed by controller.devices.config."""

    id: str
    profile: str
    kind: str  # the profile's kind: keypad, evaluator, display, printer, idcard, counter
    port: str | None = None  # serial device (an RS-485 bus is the devices sharing a port)
    host: str | None = None
    tcp_port: int | None = None
    address: int | None = None
    window: int | None = None
    role: str | None = None  # displays: window_screen or hall_strip
    category: str | None = None  # kiosk reader/printer: the category of its tickets
    printer: str | None = None  # an ID-card reader: the printer of its kiosk
    priority_group: str | None = None  # reader: the group of citizens of priority_age+
    priority_age: int = 60
    bad_reason: str | None = None  # evaluator: the reason code of a keypad bad review


@dataclass(frozen=True, slots=True)
class StoreRules:
    """Where the log may grow. None: up to the disk."""

    max_size_mb: int | None = None


@dataclass(frozen=True, slots=True)
class HallConfig:
    source: Path
    hall_id: str
    hall_name: str
    day: BusinessDay
    categories: dict[str, Category]  # by prefix, in configured order
    windows: dict[int, Window]  # by number, in configured order
    priorities: tuple[PriorityGroup, ...]  # rank order: first is served first
    queue: QueueRules
    data_dir: Path | None = None
    listen: str | None = None
    cloud: CloudConfig = CloudConfig()
    appointments: AppointmentRules = AppointmentRules()
    evaluation_reasons: tuple[EvaluationReason, ...] = ()
    review: ReviewSystem = ReviewSystem()
    store: StoreRules = StoreRules()
    cases: CaseRules = CaseRules()  # [cases]: item catalog, working days (docs/cases.md)
    voice: VoiceConfig = VoiceConfig()
    flow: FlowConfig = FlowConfig()
    devices: tuple[DeviceEntry, ...] = ()  # [[devices]]: docs/device-profiles.md
    # Derived once, looked up on every ticket: not configuration keys.
    _ranks: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)
    _serving: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False,
                                           compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ranks", {g.name: i for i, g in enumerate(self.priorities)})
        object.__setattr__(self, "_serving", {
            prefix: [w.number for w in self.windows.values() if prefix in w.weights]
            for prefix in self.categories
        })

    def priority_rank(self, name: str | None) -> int | None:
        """Rank of a priority group (0 is served first); None for normal tickets."""
        return None if name is None else self._ranks.get(name)

    def windows_serving(self, prefix: str) -> list[int]:
        return self._serving.get(prefix, [])
