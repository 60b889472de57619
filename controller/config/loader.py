"""Read a hall configuration from TOML and refuse anything doubtful.

An installer editing a file at a hall needs the file and the exact key named on every
mistake, unknown keys included (a misspelt key silently ignored is a hall that behaves
differently from what its installer believes).
"""

from __future__ import annotations

import builtins
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from yarl import URL

from controller.config.model import (
    DISPATCH_RULES,
    VOICE_BACKENDS,
    AppointmentRules,
    BusinessDay,
    Category,
    CloudConfig,
    EvaluationReason,
    HallConfig,
    Landing,
    OutsideSlot,
    Post,
    PriorityGroup,
    QueueRules,
    ReviewSystem,
    StoreRules,
    VoiceConfig,
    Window,
)
from controller.core.clock import END_OF_DAY  # closes = "24:00"

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "config" / "demo-hall.toml"


class ConfigError(Exception):
    """A configuration mistake, carrying the file and the dotted key it concerns."""

    def __init__(self, file: Path, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file = file
        self.key = key
        self.message = message


class _Reader:
    """Pops keys off one TOML table, so that whatever is left over is an unknown key."""

    def __init__(self, file: Path, path: str, table: Any) -> None:
        self.file = file
        self.path = path
        if not isinstance(table, dict):
            raise ConfigError(file, path or "(top level)", "must be a table")
        self.table = dict(table)

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, message: str) -> ConfigError:
        return ConfigError(self.file, self.key(name), message)

    def _take(self, name: str, kinds: tuple[type, ...], kind_name: str, default: Any) -> Any:
        if name not in self.table:
            if default is _REQUIRED:
                raise self.fail(name, "is required")
            return default
        value = self.table.pop(name)
        # bool is an int in Python; a hall file saying `daily_quota = true` is a mistake.
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(name, f"must be {kind_name}, not {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(name, f"must be {kind_name}, not {value!r}")
        return value

    # Named after what they read; past `str` below, annotations say `builtins.str`, as
    # the class body's `str` is this method.
    def str(self, name: str, default: Any = None) -> Any:
        value = self._take(name, (str,), "a string", default)
        if isinstance(value, str) and not value.strip():
            raise self.fail(name, "must not be empty")
        return value

    def int(self, name: builtins.str, default: Any = None, lo: int = 0, hi: int = 10**9) -> Any:
        value = self._take(name, (int,), "an integer", default)
        if isinstance(value, int) and not lo <= value <= hi:
            raise self.fail(name, f"must be between {lo} and {hi}, not {value}")
        return value

    def number(self, name: builtins.str, default: Any, hi: float, unit: builtins.str,
               note: builtins.str = "") -> Any:
        """A positive number at most `hi` (of `unit`; `note` says what `hi` is), as a float.
        Compared before any conversion: an integer of 400 digits is no float; NaN fails."""
        value = self._take(name, (int, float), "a number", default)
        if value is None:
            return None
        if not 0 < value <= hi:
            shown = (f"an integer of {len(builtins.str(abs(value)))} digits"
                     if isinstance(value, int) and abs(value) > 10**15 else value)
            limit = f"{hi:g} ({note})" if note else f"{hi:g}"
            of = f" of {unit}" if unit else ""
            raise self.fail(name, f"must be a positive number{of}, at most {limit}, not {shown}")
        return float(value)

    def filename(self, name: builtins.str, base: Path, default: Any = None) -> Path | None:
        """A file or directory name, relative to `base` unless absolute."""
        value = self.str(name, default)
        if value is None:
            return None
        if "\0" in value:
            raise self.fail(name, "must not contain a NUL character")
        p = Path(value)
        return p if p.is_absolute() else base / p

    def bool(self, name: builtins.str, default: Any = None) -> Any:
        return self._take(name, (bool,), "true or false", default)

    def table_(self, name: builtins.str, default: Any = None) -> Any:
        return self._take(name, (dict,), "a table", default)

    def list_(self, name: builtins.str, default: Any = None) -> Any:
        return self._take(name, (list,), "a list", default)

    def clock(self, name: builtins.str, default: Any = None,
              end_of_day: builtins.bool = False) -> time:
        """HH:MM; with `end_of_day`, "24:00" too, returned as END_OF_DAY."""
        raw = self.str(name, default)
        if isinstance(raw, time):
            return raw
        if end_of_day and raw == "24:00":
            return END_OF_DAY
        match = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", raw or "")
        if not match:
            latest = "24:00" if end_of_day else "23:59"
            raise self.fail(name, f"must be a local time HH:MM (00:00-{latest}), not {raw!r}")
        return time(int(match[1]), int(match[2]))

    def done(self) -> None:
        if self.table:
            name = sorted(self.table)[0]
            raise self.fail(name, "unknown key")


_REQUIRED = object()


def load_config(path: Path | str) -> HallConfig:
    """Load and validate a hall file; raises ConfigError naming file and key."""
    file = Path(path)
    return parse_config(read_toml(file), file)


def read_toml(file: Path) -> dict[str, Any]:
    """A TOML file's tables; ConfigError naming the file when it cannot be read or parsed."""
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, "(file)", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(file, "(file)", f"cannot be read: {exc}") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer beyond 4300 digits
        raise ConfigError(file, "(syntax)", str(exc)) from None


def unreadable(path: Path) -> str | None:
    """Why the daemon could not read the file at `path` (as the user running this), or None.
    A directory or a FIFO is refused before it is opened (opening a FIFO would block)."""
    try:
        if path.is_dir():
            return f"is a directory, not a file: {path}"
        if not path.exists():
            return f"no such file: {path}"
        if not path.is_file():
            return f"is not a regular file: {path}"
        with path.open("rb"):
            pass
    except OSError as exc:
        return f"cannot be read: {path}: {exc.strerror or exc}"
    return None


def _port_ok(port: str | None) -> bool:
    return port is None or (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535)


def parse_config(raw: dict[str, Any], file: Path) -> HallConfig:
    top = _Reader(file, "", raw)

    hall = _Reader(file, "hall", top.table_("hall", _REQUIRED))
    hall_id = hall.str("id", _REQUIRED)
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", hall_id):
        raise hall.fail("id", "must be 1-64 letters, digits, '_', '.' or '-'")
    hall_name = hall.str("name", _REQUIRED)
    data_dir = hall.filename("data_dir", Path(), None)  # relative: to the working directory
    listen = hall.str("listen", None)
    if listen is not None:
        match = re.fullmatch(r"(?:[^\s:\[\]]+|\[[0-9a-fA-F:]+\]):(\d{1,5})", listen)
        if not match:
            raise hall.fail("listen", f"must be HOST:PORT, not {listen!r}")
        if not _port_ok(match[1]):
            raise hall.fail("listen", f"needs a port 1-65535, not {match[1]}")
    hall.done()

    day = _parse_day(_Reader(file, "business_day", top.table_("business_day", _REQUIRED)))
    queue = _parse_queue(_Reader(file, "queue", top.table_("queue", {})))

    categories: dict[str, Category] = {}
    for i, item in enumerate(top.list_("categories", _REQUIRED)):
        cat = _parse_category(_Reader(file, f"categories[{i}]", item))
        if cat.prefix in categories:
            raise ConfigError(file, f"categories[{i}].prefix", f"duplicate prefix {cat.prefix!r}")
        categories[cat.prefix] = cat
    if not categories:
        raise top.fail("categories", "must name at least one category")

    windows: dict[int, Window] = {}
    for i, item in enumerate(top.list_("windows", _REQUIRED)):
        win = _parse_window(_Reader(file, f"windows[{i}]", item), categories)
        if win.number in windows:
            raise ConfigError(file, f"windows[{i}].number", f"duplicate window {win.number}")
        windows[win.number] = win
    if not windows:
        raise top.fail("windows", "must name at least one window")
    for prefix in categories:
        if not any(prefix in w.weights for w in windows.values()):
            raise ConfigError(file, "windows", f"no window serves category {prefix!r}")

    priorities: list[PriorityGroup] = []
    for i, item in enumerate(top.list_("priority_groups", [])):
        r = _Reader(file, f"priority_groups[{i}]", item)
        name = r.str("name", _REQUIRED)
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
            raise r.fail("name", "must be lower-case letters, digits and '_'")
        if any(p.name == name for p in priorities):
            raise r.fail("name", f"duplicate priority group {name!r}")
        priorities.append(PriorityGroup(name=name, label=r.str("label", name)))
        r.done()
    cloud = _parse_cloud(_Reader(file, "cloud", top.table_("cloud", {})), file)
    reasons: list[EvaluationReason] = []
    for i, item in enumerate(top.list_("evaluation_reasons", [])):
        r = _Reader(file, f"evaluation_reasons[{i}]", item)
        code = r.str("code", _REQUIRED)
        if not re.fullmatch(r"[0-9A-Za-z_]{1,16}", code):
            raise r.fail("code", "must be 1-16 letters, digits or '_'")
        if any(x.code == code for x in reasons):
            raise r.fail("code", f"duplicate reason code {code!r}")
        reasons.append(EvaluationReason(code, r.str("label", _REQUIRED)))
        r.done()
    review = _parse_review(_Reader(file, "review", top.table_("review", {})))
    store_table = _Reader(file, "store", top.table_("store", {}))
    store = StoreRules(max_size_mb=store_table.int("max_size_mb", None, 1, 10**6))
    store_table.done()
    cases = _parse_cases(top.table_("cases", {}), file, set(categories))
    appointments = _parse_appointments(
        _Reader(file, "appointments", top.table_("appointments", {})),
        {p.name for p in priorities},
    )
    voice = _parse_voice(_Reader(file, "voice", top.table_("voice", {})), file)
    flow = _parse_flow(_Reader(file, "flow", top.table_("flow", {})))
    devices = _parse_devices(top.list_("devices", []), file, categories, windows, priorities,
                             {x.code for x in reasons})
    top.done()
    cases = _load_catalog(cases, set(categories), file)  # once the hall file is OK

    return HallConfig(
        source=file,
        hall_id=hall_id,
        hall_name=hall_name,
        day=day,
        categories=categories,
        windows=windows,
        priorities=tuple(priorities),
        queue=queue,
        data_dir=data_dir,
        listen=listen,
        cloud=cloud,
        appointments=appointments,
        evaluation_reasons=tuple(reasons),
        review=review,
        store=store,
        cases=cases,
        voice=voice,
        flow=flow,
        devices=devices,
    )


def _parse_voice(r: _Reader, file: Path) -> VoiceConfig:
    """`[voice]`: announcement templates and the audio backend (docs/voice.md)."""
    from controller.voice.text import check_template

    d = VoiceConfig()
    backend = r.str("backend", d.backend)
    if backend not in VOICE_BACKENDS:
        raise r.fail("backend", f"must be one of {', '.join(VOICE_BACKENDS)}, not {backend!r}")
    templates = {}
    for name in ("template", "recall_template"):
        templates[name] = r.str(name, getattr(d, name))
        if problem := check_template(templates[name]):
            raise r.fail(name, problem)
    letters = r.table_("letters", {})
    for letter, reading in letters.items():
        if not (len(letter) == 1 and "A" <= letter <= "Z") or not isinstance(reading, str) \
                or not reading.strip():
            raise r.fail(f"letters.{letter}", "maps an upper-case letter to a non-empty string")
    player = r.list_("player", [])
    if not all(isinstance(x, str) and x for x in player):
        raise r.fail("player", "must be a command as a list of strings, e.g. [\"aplay\", \"-q\"]")
    if not all("\0" not in x for x in player):
        raise r.fail("player", "must not contain a NUL character")
    segments_dir = r.filename("segments_dir", file.parent)
    voice = r.str("espeak_voice", d.espeak_voice)
    if not re.fullmatch(r"[A-Za-z0-9_+-]{1,40}", voice):
        raise r.fail("espeak_voice", f"is not a voice name: {voice!r}")
    if backend == "segments" and segments_dir is None:
        raise r.fail("segments_dir", "is required when backend is \"segments\"")
    cfg = VoiceConfig(
        backend=backend,
        template=templates["template"],
        recall_template=templates["recall_template"],
        repeat=r.int("repeat", d.repeat, 1, 5),
        gap_ms=r.int("gap_ms", d.gap_ms, 0, 10000),
        letters=tuple(sorted(letters.items())),
        espeak_voice=voice,
        espeak_speed=r.int("espeak_speed", d.espeak_speed, 80, 400),
        segments_dir=segments_dir,
        player=tuple(player),
    )
    r.done()
    return cfg


def _parse_cases(table: Any, file: Path, categories: set[str]) -> Any:
    """`[cases]`: the item catalog file and the case rules (controller/catalog/loader.py)."""
    from controller.catalog.loader import parse_case_rules

    return parse_case_rules(table, file, categories)


def _load_catalog(cases: Any, categories: set[str], file: Path) -> Any:
    from controller.catalog.loader import with_catalog

    return with_catalog(cases, categories, file)


def _strings(r: _Reader, name: str) -> tuple[str, ...]:
    values = r.list_(name, [])
    if not all(isinstance(v, str) and v for v in values):
        raise r.fail(name, "must be a list of non-empty strings")
    return tuple(values)


def _parse_review(r: _Reader) -> ReviewSystem:
    default = ReviewSystem()
    codes = r.table_("channel_codes", None)
    channel_codes = default.channel_codes
    if codes is not None:
        from controller.core.evaluations import CHANNELS as EVALUATION_CHANNELS

        for channel, code in codes.items():
            if channel not in EVALUATION_CHANNELS:
                raise r.fail(f"channel_codes.{channel}",
                             f"unknown channel; known: {', '.join(EVALUATION_CHANNELS)}")
            if not isinstance(code, str) or not re.fullmatch(r"[0-9]{1,4}", code):
                raise r.fail(f"channel_codes.{channel}",
                             f"must be the review system's code, digits as a string "
                             f"(\"5\"), not {code!r}")
        channel_codes = tuple((str(k), str(v)) for k, v in codes.items())
    dept_code = r.str("dept_code", None) or ""
    if dept_code and not re.fullmatch(r"[0-9A-Z]{18}", dept_code):
        raise r.fail("dept_code", "must be the 18-character unified social credit code")
    review = ReviewSystem(
        area_code=r.str("area_code", None) or "",
        area_name=r.str("area_name", None) or "",
        dept_code=dept_code,
        dept_name=r.str("dept_name", None) or "",
        data_source=r.str("data_source", default.data_source),
        channel_codes=channel_codes,
        real_name=r.bool("real_name", default.real_name),
        success_results=_strings(r, "success_results"),
        identity_retention_h=r.number("identity_retention_h", default.identity_retention_h,
                                      720, "hours", "30 days"),
    )
    r.done()
    return review


def _parse_appointments(r: _Reader, groups: set[str]) -> AppointmentRules:
    explicit = "priority_group" in r.table
    group = r.str("priority_group", "appointment")
    if group not in groups:
        if explicit:
            raise r.fail("priority_group", f"no priority group {group!r} in priority_groups")
        group = None  # the default group is not configured: appointments get no priority
    outside = r.str("outside_slot", "refuse")
    try:
        outside_ = OutsideSlot(outside)
    except ValueError:
        raise r.fail("outside_slot", "must be refuse or walk_in") from None
    rules = AppointmentRules(
        early_min=r.int("early_min", 30, 0, 24 * 60),
        late_min=r.int("late_min", 15, 0, 24 * 60),
        outside_slot=outside_,
        priority_group=group,
        max_days_ahead=r.int("max_days_ahead", 7, 1, 60),
    )
    r.done()
    return rules


def check_mqtt_url(url: str) -> str | None:
    """None when `url` is a usable broker address, else what is wrong with it. Checked as
    the MQTT link reads it (urllib's urlsplit), with the port 1-65535."""
    match = re.fullmatch(r"(mqtts?)://([^\s:/?#@\[\]]+|\[[0-9a-fA-F:]+\])(?::(\d{1,5}))?/?",
                         url)
    if not match:
        return f"must be mqtt://HOST[:PORT] or mqtts://HOST[:PORT], not {url!r}"
    if not _port_ok(match[3]):
        return f"needs a port 1-65535, not {match[3]}"
    try:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError("no host")
        _ = parts.port  # raises on a port it cannot read
    except ValueError as exc:
        return f"is not a broker address ({exc}): {url!r}"
    return None


def check_http_url(url: str) -> str | None:
    """None when `url` is an http(s) URL that aiohttp (yarl) will request, else why not."""
    if not re.fullmatch(r"https?://[^\s/\x00-\x1f\x7f]+(/[^\s\x00-\x1f\x7f]*)?", url):
        return f"must be an http:// or https:// URL, not {url!r}"
    try:
        parsed = URL(url)
    except ValueError as exc:
        return f"is not a valid URL ({exc}): {url!r}"
    if not parsed.host:
        return f"names no host: {url!r}"
    if parsed.explicit_port is not None and not 1 <= parsed.explicit_port <= 65535:
        return f"needs a port 1-65535, not {parsed.explicit_port}"
    return None


def _parse_cloud(r: _Reader, file: Path) -> CloudConfig:
    def path(name: str) -> Path | None:
        p = r.filename(name, file.parent)
        if p is not None and (problem := unreadable(p)):
            raise r.fail(name, problem)
        return p

    mqtt_url = r.str("mqtt_url", None)
    if mqtt_url is not None and (problem := check_mqtt_url(mqtt_url)):
        raise r.fail("mqtt_url", problem)
    evaluation_url = r.str("evaluation_url", None)
    if evaluation_url is not None and (problem := check_http_url(evaluation_url)):
        raise r.fail("evaluation_url", problem)
    cloud = CloudConfig(
        mqtt_url=mqtt_url,
        username=r.str("username", None),
        password_file=path("password_file"),
        ca_file=path("ca_file"),
        cert_file=path("cert_file"),
        key_file=path("key_file"),
        client_id=r.str("client_id", None),
        topic_prefix=r.str("topic_prefix", "hall"),
        batch_max_events=r.int("batch_max_events", 200, 1, 5000),
        batch_max_bytes=r.int("batch_max_bytes", 256 * 1024, 4096, 256 * 1024 * 1024),
        batch_linger_ms=r.int("batch_linger_ms", 50, 0, 5000),
        max_inflight=r.int("max_inflight", 8, 1, 10),
        session_expiry_s=r.int("session_expiry_s", 7 * 24 * 3600, 0, 2**32 - 1),
        receipts=r.bool("receipts", False),
        receipt_wait_s=r.number("receipt_wait_s", 30.0, 3600, "seconds", "an hour"),
        evaluation_url=evaluation_url,
        evaluation_timeout_s=r.number("evaluation_timeout_s", 10.0, 300, "seconds",
                                      "5 minutes"),
        secret_file=path("secret_file"),
    )
    if (cloud.cert_file is None) != (cloud.key_file is None):
        raise r.fail("key_file", "cert_file and key_file go together")
    r.done()
    return cloud


def _parse_day(r: _Reader) -> BusinessDay:
    tz_name = r.str("timezone", "Asia/Shanghai")
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise r.fail("timezone", f"unknown time zone {tz_name!r}") from None
    opens = r.clock("opens", _REQUIRED)
    closes = r.clock("closes", _REQUIRED, end_of_day=True)
    to_midnight = closes == END_OF_DAY  # "24:00"
    if closes <= opens and not to_midnight:
        raise r.fail("closes", "must be later than opens")
    resets = r.clock("numbering_resets", "03:00")
    # At closing is outside (a day may end as the hall closes): 00:00 with closes = "24:00".
    inside = opens <= resets and (to_midnight or resets < closes)
    if inside and not (to_midnight and resets == END_OF_DAY):
        raise r.fail("numbering_resets", "must be outside opening hours")
    enforce = r.bool("enforce_hours", True)
    r.done()
    return BusinessDay(tz, opens, closes, resets, enforce)


def _parse_queue(r: _Reader) -> QueueRules:
    recall_limit = r.int("recall_limit", 2, 0, 10)
    suspend_return_min = r.int("suspend_return_min", 15, 1, 24 * 60)
    dispatch = r.list_("dispatch", list(DISPATCH_RULES))
    for rule in dispatch:
        if rule not in DISPATCH_RULES:
            raise r.fail("dispatch", f"unknown rule {rule!r}; known: {', '.join(DISPATCH_RULES)}")
    if len(set(dispatch)) != len(dispatch):
        raise r.fail("dispatch", "names a rule twice")
    r.done()
    return QueueRules(recall_limit, suspend_return_min, tuple(dispatch))


def _parse_category(r: _Reader) -> Category:
    prefix = r.str("prefix", _REQUIRED)
    if not re.fullmatch(r"[A-Z]", prefix):
        raise r.fail("prefix", f"must be one capital letter A-Z, not {prefix!r}")
    landing = r.str("transfer_landing", "front")
    try:
        landing_ = Landing(landing)
    except ValueError:
        choices = ", ".join(x.value for x in Landing)
        raise r.fail("transfer_landing", f"must be one of {choices}") from None
    cat = Category(
        prefix=prefix,
        name=r.str("name", _REQUIRED),
        daily_quota=r.int("daily_quota", 999, 1, 999),
        service_level_min=r.int("service_level_min", 30, 1, 24 * 60),
        transfer_landing=landing_,
        per_person_daily_limit=r.int("per_person_daily_limit", 0, 0, 999),
        default_service_min=r.number("default_service_min", 8.0, 24 * 60, "minutes",
                                     "a day"),
    )
    r.done()
    return cat


def _parse_window(r: _Reader, categories: dict[str, Category]) -> Window:
    number = r.int("number", _REQUIRED, 1, 999)
    post = r.str("post", "intake")
    try:
        post_ = Post(post)
    except ValueError:
        raise r.fail("post", f"must be one of {', '.join(p.value for p in Post)}") from None
    name = r.str("name", f"{number}号窗口")
    raw = r.table_("categories", _REQUIRED)
    weights: dict[str, int] = {}
    for prefix, weight in raw.items():
        key = f"categories.{prefix}"
        if prefix not in categories:
            raise r.fail(key, f"unknown category {prefix!r}")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
            raise r.fail(key, f"weight must be an integer 1-100, not {weight!r}")
        weights[prefix] = weight
    if not weights:
        raise r.fail("categories", "must name at least one category")
    r.done()
    return Window(number=number, name=name, post=post_, weights=weights)


def _parse_flow(r: _Reader) -> Any:
    """`[flow]`: Table 1's N, congestion thresholds, supervision limits (docs/flow.md)."""
    from controller.config.model import FlowConfig

    d = FlowConfig()
    flow = FlowConfig(
        self_service_computers=r.int("self_service_computers", d.self_service_computers, 0, 1000),
        off_peak_weeks=r.int("off_peak_weeks", d.off_peak_weeks, 1, 52),
        max_waiting=r.int("max_waiting", d.max_waiting, 0, 100_000),
        over_service_level=r.bool("over_service_level", d.over_service_level),
        arrival_window_min=r.int("arrival_window_min", d.arrival_window_min, 1, 240),
        capacity_factor=r.number("capacity_factor", d.capacity_factor, 10, ""),
        min_arrivals=r.int("min_arrivals", d.min_arrivals, 0, 100_000),
        pause_limit_min=r.int("pause_limit_min", d.pause_limit_min, 1, 24 * 60),
        service_limit_factor=r.number("service_limit_factor", d.service_limit_factor, 20,
                                      ""),
        transfer_limit=r.int("transfer_limit", d.transfer_limit, 1, 100),
    )
    r.done()
    return flow


def _parse_devices(items: list[Any], file: Path, categories: dict[str, Category],
                   windows: dict[int, Window], priorities: list[PriorityGroup],
                   reasons: set[str]) -> Any:
    """`[[devices]]`: parsed and checked against the device profiles by controller.devices."""
    from controller.devices.config import parse_devices

    return parse_devices(items, file, categories, windows, {p.name for p in priorities},
                         reasons=reasons)
