"""`hallctl export flow` over a real SQLite file, and the off-peak advice."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import uuid
from pathlib import Path

from controller.core import commands as c
from controller.core.flow import FlowBuilder, off_peak
from controller.store.eventlog import DB_NAME, Envelope
from controller.store.schema import open_sync
from tests.flow.helpers import HALL, Driver, at, make_cfg
from tests.flow.test_flow import scripted_day

REPO = Path(__file__).resolve().parents[2]


def write_hall(tmp_path: Path) -> Path:
    """The test hall as a TOML file (the CLI reads a file)."""
    lines = []
    for table in ("hall", "business_day", "queue", "flow"):
        lines.append(f"[{table}]")
        for k, v in HALL[table].items():
            lines.append(f"{k} = {json.dumps(v)}")
    for array in ("priority_groups", "categories", "windows"):
        for item in HALL[array]:
            lines.append(f"[[{array}]]")
            for k, v in item.items():
                if isinstance(v, dict):
                    v_text = "{ " + ", ".join(f"{a} = {b}" for a, b in v.items()) + " }"
                    lines.append(f"{k} = {v_text}")
                else:
                    lines.append(f"{k} = {json.dumps(v, ensure_ascii=False)}")
    path = tmp_path / "hall.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_export_flow_csv(tmp_path: Path) -> None:
    d = scripted_day()
    # An appointment: its identity hash is stored in the private column, which the export
    # must read too (it failed with KeyError: 'identity_hash').
    d.run(at(9, 41), c.CreateAppointment("ap1", "A", at(10, 0), at(10, 30), "f" * 64))
    data = tmp_path / "data"
    data.mkdir()
    conn = open_sync(str(data / DB_NAME))
    conn.executemany(
        "INSERT INTO events(seq, id, ts, type, data, private, actor) VALUES (?,?,?,?,?,?,?)",
        [Envelope(seq, str(uuid.uuid4()), ts, kind, payload, "t").row()
         for seq, ts, kind, payload in d.log])
    assert conn.execute("SELECT count(*) FROM events WHERE private IS NOT NULL").fetchone()[0]
    conn.close()
    hall = write_hall(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "controller", "export", "flow", "--from", "2024-03-04",
         "--to", "2024-03-05", "--config", str(hall), "--data-dir", str(data)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 36  # two days of 18 half hours
    first = rows[0]
    assert (first["date"], first["issued"], first["issued_A"], first["issued_via_sms"]) == (
        "2024-03-04", "3", "2", "1")
    assert float(first["wait_p90_min"]) == 17 and first["counter_in"] == "10"
    assert rows[1]["no_show_rate"] == "0.5" and rows[1]["eval_5"] == "1"
    assert rows[18]["date"] == "2024-03-05" and rows[18]["issued"] == "0"
    bad = subprocess.run(
        [sys.executable, "-m", "controller", "export", "flow", "--from", "2024-03-05",
         "--to", "2024-03-04", "--config", str(hall), "--data-dir", str(data)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert bad.returncode == 2 and "before" in bad.stderr
    # Both ends count: a leap year's 366 days pass, one day more does not.
    year = subprocess.run(
        [sys.executable, "-m", "controller", "export", "flow", "--from", "2024-01-01",
         "--to", "2024-12-31", "--config", str(hall), "--data-dir", str(data)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert year.returncode == 0, year.stderr
    assert len(year.stdout.splitlines()) == 1 + 366 * 18
    more = subprocess.run(
        [sys.executable, "-m", "controller", "export", "flow", "--from", "2024-01-01",
         "--to", "2025-01-01", "--config", str(hall), "--data-dir", str(data)],
        capture_output=True, text=True, cwd=REPO, timeout=60, check=False)
    assert more.returncode == 2 and "366 days" in more.stderr


def test_off_peak_picks_the_shortest_waits() -> None:
    cfg = make_cfg()
    d = Driver(cfg)
    # Two Mondays: a crowd at 09:00 (waits), one quiet ticket served at once at 15:00.
    for day in (4, 11):
        d.run(at(8, 30, day=day), c.OpenWindow(1))
        for i in range(4):
            d.issue(at(9, 0, day=day), f"m{day}-{i}", "A")
        for i in range(4):
            d.run(at(9, 10 * (i + 1), day=day), c.CallNext(1))
        d.run(at(10, 0, day=day), c.Complete(1))
        d.issue(at(15, 0, day=day), f"q{day}", "A")
        d.run(at(15, 1, day=day), c.CallNext(1))
        d.run(at(15, 5, day=day), c.Complete(1))
        d.run(at(17, 30, day=day), c.CloseWindow(1))
    b = FlowBuilder(cfg)
    b.feed(d.log)
    records = [b.day(f"2024-03-{n:02d}", at(18, day=12)) for n in range(4, 12)]
    advice = off_peak(records, quietest=3)
    assert advice["days_used"] == 2
    monday = advice["by_weekday"]["1"]
    nine = next(s for s in monday["slots"] if s["slot"] == "09:00-09:30")
    assert nine == {"slot": "09:00-09:30", "days": 2, "issued_avg": 4.0, "wait_avg_min": 25.0,
                    "unserved_days": 0}
    assert "09:00-09:30" not in monday["quietest"]
    assert "15:00-15:30" not in monday["quietest"]  # 1 min wait: quiet slots had none
    assert monday["quietest"] == ["08:30-09:00", "09:30-10:00", "10:00-10:30"]
    assert advice["text"].startswith("错时办事建议：星期一 ")
    assert list(advice["by_weekday"]) == ["1"]  # other weekdays had no ticket
