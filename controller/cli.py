"""`hallctl`: run the daemon, check a configuration, create API tokens.

Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from controller import __version__
from controller.config import DEFAULT_CONFIG, ConfigError, HallConfig, load_config

DEFAULT_DATA_DIR = Path("var")
DEFAULT_LISTEN = "127.0.0.1:8080"
T = TypeVar("T")


class UsageError(Exception):
    """A bad option value found after parsing: one line on stderr, exit 2 (main)."""


def dir_option(text: str | None, option: str) -> Path | None:
    """A directory option as given (`type=str`, so that an empty one is not taken for the
    working directory, as `Path("")` is): None when not given."""
    if text is None:
        return None
    if not text.strip():
        raise UsageError(f"{option}: empty: name a directory (`.` for this one)")
    return Path(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hallctl", description="hall-controller: 政务服务大厅控制器")
    p.add_argument("--version", action="version", version=f"hallctl {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the hall controller daemon")
    run.add_argument("--config", type=Path, default=None, help="hall TOML (default: demo hall)")
    run.add_argument("--data-dir", default=None, help="state directory (default ./var)")
    run.add_argument("--listen", default=None, help="HOST:PORT (default 127.0.0.1:8080)")
    run.add_argument("--cloud-mqtt", default=None, metavar="URL",
                     help="cloud broker, mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    run.add_argument("--evaluation-url", default=None, metavar="URL",
                     help="the review system's evaluation endpoint (http[s]://...)")
    run.add_argument("--no-devices", action="store_true",
                     help="leave the hall file's [[devices]] alone (maintenance, tests)")
    run.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    check = sub.add_parser("check-config", help="validate a hall configuration file")
    check.add_argument("file", type=Path)

    sim = sub.add_parser("cloud-sim", help="run the reference cloud (for demos and tests)")
    sim.add_argument("--mqtt", default=None, metavar="URL", help="broker, mqtt://HOST[:PORT]")
    sim.add_argument("--listen", default="127.0.0.1:8090", help="HOST:PORT for its HTTP side")
    sim.add_argument("--topic-prefix", default="hall", help="as the halls' cloud.topic_prefix")
    sim.add_argument("--secret-file", type=Path, default=None,
                     help="shared secret of the review reports' signatures")

    token = sub.add_parser("token", help="manage API tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token; printed once, stored hashed")
    create.add_argument("--role", required=True, choices=["kiosk", "clerk", "pad", "supervisor", "admin"])
    create.add_argument("--window", type=int, default=None, help="the window of a clerk or pad token")
    create.add_argument("--config", type=Path, default=None)
    create.add_argument("--data-dir", default=None)
    listing = token_sub.add_parser("list", help="list tokens (ids and roles; never the tokens)")
    listing.add_argument("--config", type=Path, default=None)
    listing.add_argument("--data-dir", default=None)
    revoke = token_sub.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("token_id")
    revoke.add_argument("--config", type=Path, default=None)
    revoke.add_argument("--data-dir", default=None)
    held = sub.add_parser("identities", help="ID numbers held sealed for real-name review "
                                             "reports (docs/haochaping.md)")
    held.add_argument("action", choices=["count", "erase"],
                      help="count them, or erase them all now (they are never needed again: "
                           "the reports waiting for them go anonymous)")
    held.add_argument("--config", type=Path, default=None)
    held.add_argument("--data-dir", default=None)
    from controller.replay.cli import add_parsers as add_replay_parsers  # replay, export

    add_replay_parsers(sub)
    from controller.devices.cli import add_parsers as add_device_parsers
    add_device_parsers(sub)  # hallctl devices, hallctl simulate
    from controller.sync.cli import add_parsers as add_sync_parsers
    add_sync_parsers(sub)  # hallctl sync
    return p


def _load(path: Path | None) -> HallConfig:
    return load_config(path or DEFAULT_CONFIG)


def _data_dir(arg: str | None, cfg: HallConfig) -> Path:
    return dir_option(arg, "--data-dir") or cfg.data_dir or DEFAULT_DATA_DIR


class DatabaseTrouble(Exception):
    """The hall database of a `token` or `identities` command cannot be used: one line
    naming the file, exit 1."""


def _hall_database(data_dir: Path) -> Path:
    """The data directory's existing database: `token list`, `revoke` and `identities`
    never create one (an empty file where the daemon would look is worse than none)."""
    from controller.store.eventlog import DB_NAME

    db = data_dir / DB_NAME
    if not data_dir.is_dir():
        why = "is not a directory" if data_dir.exists() else "does not exist"
        raise DatabaseTrouble(f"{db}: no hall database here: {data_dir} {why} (--data-dir)")
    if db.is_dir():
        raise DatabaseTrouble(f"{db}: a directory, not a hall database")
    if not db.exists():
        raise DatabaseTrouble(f"{db}: no hall database here (is --data-dir the daemon's?)")
    return db


def _on_database(db: Path, action: Callable[[], T]) -> T:
    """Runs `action` on the hall database `db`; whatever goes wrong with the database or
    its disk (corrupt, from a newer version, read-only, full, locked) becomes one line."""
    from controller.store.schema import SchemaError, explain

    try:
        return action()
    except sqlite3.Error as exc:
        raise DatabaseTrouble(f"{db}: {explain(db, exc)}") from None
    except SchemaError as exc:
        raise DatabaseTrouble(f"{db}: {exc}") from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename and str(exc.filename) != str(db) else ""
        raise DatabaseTrouble(f"{db}: {where}{exc.strerror or exc}") from None


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = load_config(args.file)
    print(f"{args.file}: OK: hall {cfg.hall_id} ({cfg.hall_name}), "
          f"{len(cfg.categories)} categories, {len(cfg.windows)} windows")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from controller.store.tokens import list_tokens, revoke_token

    if args.token_command == "create":
        return cmd_token_create(args)
    data_dir = _data_dir(args.data_dir, _load(args.config))
    db = _hall_database(data_dir)
    if args.token_command == "list":
        tokens = _on_database(db, lambda: list_tokens(data_dir))
        print(f"{'id':<12}  {'role':<10}  {'window':>6}  {'created (UTC)':<19}  revoked")
        for token_id, role, window, created, revoked in tokens:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(created))
            gone = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(revoked)) if revoked else ""
            print(f"{token_id:<12}  {role:<10}  {window or '':>6}  {when:<19}  {gone}")
        return 0
    if not _on_database(db, lambda: revoke_token(data_dir, args.token_id)):
        print(f"hallctl: no active token {args.token_id}", file=sys.stderr)
        return 1
    print(f"revoked token {args.token_id}; a running daemon refuses it within seconds")
    return 0


def cmd_identities(args: argparse.Namespace) -> int:
    """For an operator: before a box goes for repair or is retired, or on a request to
    forget."""
    from controller.store.sealed import erase_all, held

    data_dir = _data_dir(args.data_dir, _load(args.config))
    db = _hall_database(data_dir)
    if args.action == "count":
        count = _on_database(db, lambda: held(data_dir))
        print(f"{count} ID number(s) held sealed for real-name review reports")
        return 0
    erased = _on_database(db, lambda: erase_all(data_dir))
    print(f"erased {erased} ID number(s); the reports still waiting for them go anonymous")
    return 0


def cmd_token_create(args: argparse.Namespace) -> int:
    from controller.store.eventlog import DB_NAME
    from controller.store.tokens import TokenError, create_token

    cfg = _load(args.config)
    data_dir = _data_dir(args.data_dir, cfg)
    db = data_dir / DB_NAME
    if data_dir.exists() and not data_dir.is_dir():
        raise DatabaseTrouble(f"{db}: cannot be created: {data_dir} is not a directory "
                              "(--data-dir)")
    if db.is_dir():
        raise DatabaseTrouble(f"{db}: a directory, not a hall database")
    try:
        token_id, token = _on_database(db, lambda: create_token(
            data_dir, args.role, args.window, set(cfg.windows)))
    except TokenError as exc:
        print(f"hallctl: {exc}", file=sys.stderr)
        return 2
    scope = f" for window {args.window}" if args.window is not None else ""
    print(f"created {args.role} token {token_id}{scope}; it is shown only once:")
    print(token)
    return 0


def _with_overrides(cfg: HallConfig, args: argparse.Namespace) -> HallConfig:
    """Command-line cloud URLs win over the file; checked the same way."""
    from controller.config.loader import check_http_url, check_mqtt_url

    if getattr(args, "no_devices", False):
        cfg = dataclasses.replace(cfg, devices=())
    cloud = cfg.cloud
    if args.cloud_mqtt is not None:
        if problem := check_mqtt_url(args.cloud_mqtt):
            raise ConfigError(Path("--cloud-mqtt"), "cloud.mqtt_url", problem)
        cloud = dataclasses.replace(cloud, mqtt_url=args.cloud_mqtt)
    if args.evaluation_url is not None:
        if problem := check_http_url(args.evaluation_url):
            raise ConfigError(Path("--evaluation-url"), "cloud.evaluation_url", problem)
        cloud = dataclasses.replace(cloud, evaluation_url=args.evaluation_url)
    return dataclasses.replace(cfg, cloud=cloud)


def cmd_run(args: argparse.Namespace) -> int:
    from controller.daemon.lock import AlreadyRunning
    from controller.daemon.logs import configure
    from controller.daemon.run import serve, split_listen
    from controller.store.eventlog import StoreError
    from controller.store.schema import SchemaError

    cfg = _with_overrides(_load(args.config), args)
    data_dir = _data_dir(args.data_dir, cfg)
    listen = args.listen or cfg.listen or DEFAULT_LISTEN
    try:
        split_listen(listen)
    except ValueError as exc:
        where = "--listen" if args.listen else f"{cfg.source}: hall.listen"
        print(f"hallctl: {where}: {exc}", file=sys.stderr)
        return 2
    configure(args.log_level)
    try:
        asyncio.run(serve(cfg, data_dir, listen))
    except AlreadyRunning as exc:
        print(f"hallctl: {exc}", file=sys.stderr)
        return 1
    except (StoreError, SchemaError, OSError) as exc:
        print(f"hallctl: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_cloud_sim(args: argparse.Namespace) -> int:
    from controller.cloudsim.server import run_cloudsim
    from controller.config.loader import check_mqtt_url
    from controller.daemon.logs import configure
    from controller.daemon.run import split_listen

    if args.mqtt is not None and (problem := check_mqtt_url(args.mqtt)):
        raise ConfigError(Path("--mqtt"), "mqtt", problem)
    try:
        split_listen(args.listen)
    except ValueError as exc:
        print(f"hallctl: --listen: {exc}", file=sys.stderr)
        return 2
    try:
        secret = args.secret_file.read_bytes().strip() if args.secret_file else None
    except OSError as exc:
        print(f"hallctl: --secret-file: {exc.strerror or exc}: {args.secret_file} (the shared "
              "secret of the review reports' signature: the same file as the hall's "
              "[cloud].secret_file)", file=sys.stderr)
        return 2
    configure("INFO")
    try:
        asyncio.run(run_cloudsim(args.mqtt, args.listen, secret, prefix=args.topic_prefix))
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the --listen port taken, say
        print(f"hallctl: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:
        # The reader went away (`hallctl export flow ... | head`): stop quietly, as Unix
        # tools do; the output still buffered goes nowhere rather than into a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command == "check-config":
            return cmd_check_config(args)
        if args.command == "token":
            return cmd_token(args)
        if args.command == "identities":
            return cmd_identities(args)
        if args.command == "cloud-sim":
            return cmd_cloud_sim(args)
        if args.command in ("devices", "simulate"):
            from controller.devices.cli import run as run_devices_cli

            return run_devices_cli(args)
        if args.command == "sync":
            from controller.sync.cli import cmd_sync

            return cmd_sync(args)
        if args.command in ("replay", "export"):
            from controller.replay.cli import run as run_replay_cli

            return run_replay_cli(args)
        return cmd_run(args)
    except ConfigError as exc:
        print(f"hallctl: configuration error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"hallctl: {exc}", file=sys.stderr)
        return 2
    except DatabaseTrouble as exc:
        print(f"hallctl: {exc}", file=sys.stderr)
        return 1
