"""`bank-server`: serve the API, run the embedded database, create staff, back up, restore."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import ipaddress
import os
import socket
import sys
from pathlib import Path

from pydantic import ValidationError

from server.config import ConfigError, Settings, get_settings


def _data_dir(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.data_dir).expanduser() if args.data_dir else settings.bank_data_dir


def private_dir(path: Path) -> Path:
    """Create a data dir only its owner may enter (it holds the database and the key)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def port_problem(host: str, port: int) -> str | None:
    """Say in one line why `host:port` cannot be listened on, or None when it can."""
    if port == 0:
        return None
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        return (
            f"cannot listen on {host}: {exc.strerror}; pass an address of this machine with --host"
        )
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return (
                    f"port {port} is in use; stop the other server or choose another with "
                    "--port / make serve PORT=..."
                )
            if exc.errno == errno.EACCES:
                return f"port {port} needs privileges; choose one above 1023 with --port"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"{host} is not an address of this machine; choose another with --host"
            return f"cannot listen on {host}:{port}: {exc.strerror}"
    return None


def is_loopback(host: str) -> bool:
    """Tell whether a listening address is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.db import EmbeddedDatabase
    from server.observability import configure_logging
    from server.services.bootstrap import check_admin_settings

    if args.data_dir:
        os.environ["BANK_DATA_DIR"] = str(Path(args.data_dir).expanduser())
    if args.demo:
        os.environ["BANK_DEMO"] = "1"
    get_settings.cache_clear()
    settings = get_settings()
    if not settings.is_production and not args.allow_remote and not is_loopback(args.host):
        print(
            f"bank-server: development mode listens on loopback only; --host {args.host} "
            "needs --allow-remote (demo data and development keys must not reach a network)",
            file=sys.stderr,
        )
        return 2
    try:
        settings.check()
        if not settings.bank_demo:
            check_admin_settings(settings)
        private_dir(settings.bank_data_dir)
        settings.signing_key()
        configure_logging(settings)  # JSON lines from the first one; the app reapplies it
    except (ConfigError, OSError) as exc:
        print(f"bank-server: {exc}", file=sys.stderr)
        return 2
    # Before the database starts: a port in use would otherwise end in uvicorn's log line.
    if problem := port_problem(args.host, args.port):
        print(f"bank-server: {problem}", file=sys.stderr)
        return 2
    embedded: EmbeddedDatabase | None = None
    if not settings.mongodb_url:
        embedded = EmbeddedDatabase(settings.bank_data_dir / "db")
        try:
            os.environ["MONGODB_URL"] = embedded.start()
        except RuntimeError as exc:
            print(f"bank-server: {exc}", file=sys.stderr)
            return 2
        get_settings.cache_clear()
        print(f"Embedded database: {embedded.url} (data in {embedded.data_dir})", flush=True)
    try:
        uvicorn.run(
            "server.main:create_app",
            factory=True,
            host=args.host,
            port=args.port,
            reload=args.reload,
            log_level=(args.log_level or settings.log_level).lower(),
            log_config=None,  # our handler and format (LOG_FORMAT), not uvicorn's
            access_log=False,  # the app writes one access line per request itself
            server_header=False,
            timeout_keep_alive=args.keep_alive,
            timeout_graceful_shutdown=5,
            # uvicorn would believe X-Forwarded-For from 127.0.0.1 and overwrite the peer;
            # the app resolves it itself, through TRUSTED_PROXIES only (server/net.py).
            proxy_headers=False,
        )
    except SystemExit as exc:  # uvicorn's startup failure (3): its log line says why
        if exc.code == 3 and (problem := port_problem(args.host, args.port)):
            print(f"bank-server: {problem}", file=sys.stderr)  # taken since the check above
        raise
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def _db(args: argparse.Namespace) -> int:
    from server.embedded import run_database

    if not args.allow_remote and not is_loopback(args.host):
        print(
            f"bank-server db: --host {args.host} is not a loopback address; the embedded "
            "database has no authentication, so it listens on 127.0.0.1 unless you pass "
            "--allow-remote",
            file=sys.stderr,
        )
        return 2
    settings = get_settings()
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else settings.bank_data_dir / "db"
    try:
        private_dir(data_dir)
    except OSError as exc:
        print(f"bank-server db: {exc}", file=sys.stderr)
        return 2
    return run_database(
        host=args.host,
        port=args.port,
        data_dir=data_dir,
        engine=args.engine,
        watch_parent=args.watch_parent,
        txn_lifetime=args.txn_lifetime,
    )


def _read_password(role: str) -> str:
    password = os.environ.get("ADMIN_PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise ConfigError("set ADMIN_PASSWORD or run in a terminal to be prompted")
    first = getpass.getpass(f"Password for the new {role}: ")
    if first != getpass.getpass("Repeat the password: "):
        raise ConfigError("the passwords differ")
    return first


async def _create_user_async(settings: Settings, username: str, password: str, role: str) -> str:
    from pydantic import ValidationError

    from server.db import init_database, make_client
    from server.errors import DomainError
    from server.security import hash_password
    from server.services.context import Ctx
    from server.services.users import check_password_rules, insert_user
    from shared.schemas.common import Role
    from shared.schemas.users import UserCreate

    try:
        valid = UserCreate(
            username=username, password=password, full_name=role.title(),
            email=f"{username.lower()}@bank.example", role=Role(role),
        )  # fmt: skip
        check_password_rules(password, role=Role(role), username=valid.username)
    except ValidationError as exc:
        raise ConfigError("; ".join(error["msg"] for error in exc.errors())) from exc
    except DomainError as exc:
        message = exc.message
        raise ConfigError(
            message if isinstance(message, str) else "; ".join(i["msg"] for i in message)
        ) from exc
    assert settings.mongodb_url is not None
    client = make_client(settings.mongodb_url, timeout_ms=settings.db_timeout_ms)
    try:
        database = await init_database(client, settings.database_name)
        try:
            # Audited with actor `cli`: the operator on the host, not a user of the bank.
            user = await insert_user(
                Ctx(db=database), username=valid.username,
                password_hash=hash_password(password), full_name=valid.full_name,
                email=str(valid.email), role=Role(role), actor="cli",
            )  # fmt: skip
        except DomainError as exc:
            raise ConfigError(str(exc)) from exc
        return f"created {role} {user.username!r} (id {user.id})"
    finally:
        await client.close()


def _create_user(args: argparse.Namespace) -> int:
    from server.db import EmbeddedDatabase

    settings = get_settings()
    embedded: EmbeddedDatabase | None = None
    try:
        password = _read_password(args.role)
        if not settings.mongodb_url:
            embedded = EmbeddedDatabase(private_dir(_data_dir(args, settings)) / "db")
            settings = settings.model_copy(update={"mongodb_url": embedded.start()})
        print(asyncio.run(_create_user_async(settings, args.username, password, args.role)))
    except (ConfigError, RuntimeError, OSError) as exc:
        print(f"bank-server: {exc}", file=sys.stderr)
        return 2
    finally:
        if embedded is not None:
            embedded.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="bank-server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--data-dir", help="where the embedded database and key live")
    serve.add_argument("--demo", action="store_true", help="ensure demo users and accounts")
    serve.add_argument(
        "--allow-remote", action="store_true",
        help="in development, listen on a non-loopback --host all the same",
    )  # fmt: skip
    serve.add_argument("--reload", action="store_true", help="restart on code changes")
    serve.add_argument("--log-level", help="default: LOG_LEVEL (info)")
    serve.add_argument(
        "--keep-alive",
        type=float,
        default=5.0,
        help="close an idle keep-alive connection after this many seconds",
    )
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="run the embedded MongoDB-wire database alone")
    db.add_argument("--host", default="127.0.0.1", help="a loopback address (127.0.0.1)")
    db.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other machines can reach (the database has no authentication)",
    )
    db.add_argument("--port", type=int, default=27017)
    db.add_argument("--data-dir", help="folder of the SQLite file (default: DATA_DIR/db)")
    db.add_argument("--engine", choices=("sqlite", "memory"), default="sqlite")
    db.add_argument("--watch-parent", action="store_true", help=argparse.SUPPRESS)
    db.add_argument(
        "--txn-lifetime",
        type=float,
        default=60.0,
        help="abort a transaction left open this many seconds by a client that died",
    )
    db.set_defaults(handler=_db)

    # Staff bootstrap (API.md version 2): password from ADMIN_PASSWORD or prompted twice.
    staff_roles = ("teller", "supervisor", "admin")
    create = commands.add_parser("create-user", help="create a staff user (audited as cli)")
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=staff_roles, required=True)
    create.add_argument("--data-dir")
    create.set_defaults(handler=_create_user)
    admin = commands.add_parser("create-admin", help="create an admin (create-user --role admin)")
    admin.add_argument("--username", required=True)
    admin.add_argument("--data-dir")
    admin.set_defaults(handler=_create_user, role="admin")

    from server.backup import add_commands as add_backup_commands

    add_backup_commands(commands)  # backup, restore
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `bank-server`."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    try:
        result: int = handler(args)
    except ValidationError as exc:  # a bad setting: one line per field, no traceback
        fields = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
            for error in exc.errors()
        )
        print(f"bank-server: invalid settings: {fields}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
