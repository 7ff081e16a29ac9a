"""`bank-desktop`: the command line and the composition root that builds the running desktop.

`compose` is the one place a `BankClient` is made for the app; everything else (the sign-in
dialog, windows, models, dialogs, the self-test) is handed that client and keeps it for the
app's life. `desktop.app` (the running desktop) and `desktop.self_test` know nothing of each
other: this module wires them.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from desktop import __version__
from desktop.api.client import BankClient
from desktop.app import DesktopApp
from desktop.local_server import default_data_dir
from desktop.platform_check import display_problem
from desktop.self_test import DEFAULT_TIMEOUT_SECONDS, run_self_test

ORGANIZATION = "BankSystem"
APPLICATION = "bank-desktop"
DEFAULT_IDLE_MINUTES = 10


def compose(settings: QSettings, server_url: str) -> DesktopApp:
    """Build the desktop around its one client (closed by `DesktopApp.shutdown`)."""
    return DesktopApp(settings=settings, client=BankClient(server_url))


def quit_on_signals(app: QApplication) -> None:
    """Quit cleanly on SIGTERM and SIGINT (Ctrl+C), so the bundled server is stopped too."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: app.quit())
    # Python runs signal handlers between bytecodes; a timer lets it in while Qt waits.
    ticker = QTimer(app, interval=250)
    ticker.timeout.connect(lambda: None)
    ticker.start()


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="bank-desktop", description="Bank System teller desktop")
    parser.add_argument("--server", help="server URL, e.g. http://bank.example:8000")
    parser.add_argument(
        "--local",
        action="store_true",
        help="start the bundled bank server; its first start sets up the bank and its admin",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="with --local: a demo bank with well-known passwords (admin/admin123, "
        "teller/teller123), kept apart from the real one",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="with --local: where the bundled bank keeps its data (default: "
        f"{default_data_dir()}; with --demo: {default_data_dir(demo=True)})",
    )
    parser.add_argument(
        "--idle-minutes",
        type=float,
        default=None,
        help=f"lock after this much idle time (default {DEFAULT_IDLE_MINUTES})",
    )
    parser.add_argument("--version", action="version", version=f"bank-desktop {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="offscreen: start the bundled server, sign in as a demo teller, load the "
        "accounts, print one line and exit 0 (1 on any failure)",
    )
    parser.add_argument(
        "--self-test-timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"give up the self-test after this long (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    return parser


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Read the command line; refuse flags that go only with others."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else sys.argv[1:])
    if (args.demo or args.data_dir) and not args.local:
        parser.error("--demo and --data-dir go with --local")
    return args


def start(args: argparse.Namespace, app: QApplication) -> DesktopApp:
    """Build the desktop in `app` and show its first dialog; it shuts down when `app` quits."""
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    settings = QSettings(ORGANIZATION, APPLICATION)
    saved = str(settings.value("server/url", "") or "")
    use_local = args.local or (not args.server and not saved)
    desktop = compose(settings, "" if use_local else args.server or saved)
    minutes = args.idle_minutes or float(
        str(settings.value("idleLockMinutes", DEFAULT_IDLE_MINUTES))
    )
    desktop.watch_idle(minutes, app)
    app.aboutToQuit.connect(desktop.shutdown)
    if use_local:
        data_dir = Path(args.data_dir).expanduser() if args.data_dir else None
        desktop.start_local(data_dir or default_data_dir(demo=args.demo), demo=args.demo)
    else:
        desktop.show_login()
    return desktop


def launch(argv: Sequence[str]) -> DesktopApp:
    """Start the desktop inside the running QApplication (tests, tools) and return it."""
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("launch() needs a running QApplication; main() makes its own")
    return start(parse(argv), app)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop (or its self-test) until it quits; return the exit status."""
    args = parse(argv)
    if args.self_test:
        code = run_self_test(compose, args.self_test_timeout)
        # Everything is stopped and printed: leave without the interpreter's teardown, where
        # PySide can crash finalising Qt objects in the wrong order (seen once as SIGSEGV
        # after an "OK" line, under load), which would turn a passed self-test into a failure.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    existing = QApplication.instance()
    if existing is None and (problem := display_problem()):
        print(f"bank-desktop: {problem}", file=sys.stderr)
        return 1
    if isinstance(existing, QApplication):  # someone else's event loop: start, do not block
        start(args, existing)
        return 0
    app = QApplication(sys.argv[:1])
    desktop = start(args, app)
    desktop.on_quit = app.quit
    quit_on_signals(app)
    try:
        return int(app.exec())
    finally:
        desktop.shutdown()


if __name__ == "__main__":
    sys.exit(main())
