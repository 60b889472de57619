"""`hallctl sync`: the cloud links of a running daemon, for the engineer at the box.

Why a command and not only the dashboard: installing a hall means checking, from a shell
next to the box, that the MQTT link and the review system answer with the certificates and
passwords just put in place, and why not when they do not. It reads `GET /api/sync` (and
the dead letters) with a supervisor token, prints one line per link, and says in its exit
status whether every configured link is up: 0 yes, 1 no (or the daemon does not answer
sensibly), 2 no token or a --url that is not one (or, as for every hallctl command, a hall
file with an error).
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


class Unreadable(Exception):
    """The daemon's answer, or its absence, in one line for the engineer. `final`: waiting
    will not help (the token is refused)."""

    def __init__(self, message: str, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


def _get(url: str, token: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        refused = exc.code in (401, 403)
        hint = ": is the token a supervisor's?" if refused else ""
        raise Unreadable(f"{url} answered {exc.code}{hint}", final=refused) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unreadable(f"cannot read {url}: {exc}") from exc


def _links(status: Any) -> list[dict[str, Any]]:
    """The links of a GET /api/sync answer, checked enough to print them."""
    try:
        links = list(status["links"])
        for link in links:
            age = link.get("oldest_unsent_age_s")
            if not (isinstance(link["link"], str) and isinstance(link["state"], str)
                    and isinstance(link["backlog"], int)
                    and (age is None or isinstance(age, int | float))):
                raise TypeError(f"a link of an unexpected shape: {link!r:.200}")
        return links
    except (KeyError, TypeError, AttributeError) as exc:
        raise Unreadable(f"not the answer of a hall daemon's /api/sync: {exc}") from exc


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
    if url is not None:
        from controller.devices.cli import check_url

        if problem := check_url(url):
            print(f"hallctl: --url: {problem}", file=sys.stderr)
            return 2
    else:
        from controller.config import DEFAULT_CONFIG, load_config

        cfg = load_config(args.config or DEFAULT_CONFIG)
        host, _, port = (cfg.listen or "127.0.0.1:8080").rpartition(":")
        # A daemon listening on every address is reached on this machine's own.
        host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}.get(host, host)
        url = f"http://{host}:{port}"
    base = url.rstrip("/")
    deadline = time.monotonic() + max(0.0, args.wait)
    while True:
        # Until the deadline, a daemon that does not answer yet (it may be restarting
        # after the install) or a link that is not up yet is waited for.
        left = deadline - time.monotonic()
        try:
            links = _links(status := _get(base + "/api/sync", token, max(0.5, min(5.0, left))))
            parked = _get(base + "/api/sync/dead-letters", token, 5.0)["dead_letters"]
            len(parked)
        except (Unreadable, KeyError, TypeError) as exc:
            if left > 0 and not (isinstance(exc, Unreadable) and exc.final):
                time.sleep(min(0.5, left))
                continue
            print(f"hallctl: {exc}", file=sys.stderr)
            return 1
        if not _down(links) or left <= 0:
            break
        time.sleep(min(0.5, left))
    if args.json:
        print(json.dumps({**status, "dead_letters": parked}, ensure_ascii=False, indent=2))
    else:
        print(format_links(links, len(parked)))
    return 1 if _down(links) else 0


def _down(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Configured links that are not up; a review link that has had nothing to send yet
    (`idle`) is not known to be down."""
    return [x for x in links
            if x["state"] not in ("not_configured", "idle") and not x.get("connected")]
