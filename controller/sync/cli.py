"""`hallctl sync`: the cloud links of a running daemon, for the engineer at the box.

Why a command and not only the dashboard: installing a hall means checking, from a shell
next to the box, that the MQTT link and the review system answer with the certificates and
passwords just put in place, and why not when they do not. It reads `GET /api/sync` (and
the dead letters) with a supervisor token, prints one line per link, and says in its exit
status whether every configured link is up: 0 yes, 1 no (or the daemon does not answer),
2 no token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

TOKEN_ENV = "HALL_TOKEN"


def add_parsers(sub: Any) -> None:
    sync = sub.add_parser("sync", help="the cloud links of a running daemon: state, backlog, "
                                       "last error (a supervisor token)")
    sync.add_argument("--url", default=None,
                      help="the daemon's base URL (default: from the hall file's listen, "
                           "else http://127.0.0.1:8080)")
    sync.add_argument("--config", type=Path, default=None)
    sync.add_argument("--token", default=None,
                      help=f"a supervisor or admin token (default: ${TOKEN_ENV}); "
                           "`hallctl token create --role supervisor` makes one")
    sync.add_argument("--json", action="store_true", help="print the raw JSON")
    sync.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                      help="wait up to this long for every configured link to be up "
                           "(after an install: the exit status says whether it came up)")


def _get(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as resp:
        return json.loads(resp.read().decode("utf-8"))


def format_links(links: list[dict[str, Any]], parked: int) -> str:
    rows = [("LINK", "STATE", "BACKLOG", "OLDEST", "URL / LAST ERROR")]
    for link in links:
        age = link.get("oldest_unsent_age_s")
        detail = link.get("last_error") if not link.get("connected") else None
        rows.append((link["link"], link["state"], str(link["backlog"]),
                     "-" if age is None else f"{age:.0f} s",
                     detail or link.get("url") or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join([c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)] + [r[-1]])
             for r in rows]
    if parked:
        lines.append(f"{parked} review report(s) parked: GET /api/sync/dead-letters, "
                     "retried by a supervisor")
    return "\n".join(lines)


def cmd_sync(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        print(f"hallctl: a supervisor token is needed: --token or ${TOKEN_ENV} "
              "(`hallctl token create --role supervisor`)", file=sys.stderr)
        return 2
    url = args.url
    if url is None:
        from controller.config import DEFAULT_CONFIG, load_config

        cfg = load_config(args.config or DEFAULT_CONFIG)
        url = f"http://{cfg.listen or '127.0.0.1:8080'}"
    base = url.rstrip("/")
    deadline = time.monotonic() + max(0.0, args.wait)
    try:
        while True:
            status = _get(base + "/api/sync", token)
            if not _down(status["links"]) or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        letters = _get(base + "/api/sync/dead-letters", token)
    except urllib.error.HTTPError as exc:
        print(f"hallctl: {base}/api/sync answered {exc.code}"
              + (": is the token a supervisor's?" if exc.code in (401, 403) else ""),
              file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"hallctl: cannot read {base}/api/sync: {exc}", file=sys.stderr)
        return 1
    links = status["links"]
    if args.json:
        print(json.dumps({**status, "dead_letters": letters["dead_letters"]},
                         ensure_ascii=False, indent=2))
    else:
        print(format_links(links, len(letters["dead_letters"])))
    return 1 if _down(links) else 0


def _down(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [x for x in links if x["state"] != "not_configured" and not x["connected"]]
