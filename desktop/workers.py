"""Run blocking calls (HTTP) on a QThreadPool and deliver results to the GUI thread.

QThreadPool rather than an asyncio bridge: the client is plain blocking httpx, Qt owns the
threads, signals cross back to the GUI thread by queued connection, and no second event loop
has to be kept in step with Qt's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class Task(QRunnable):
    """One blocking call; `signals.done(result)` or `signals.failed(exception)` follows."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = _Signals()
        self.setAutoDelete(False)  # Python keeps it alive in _running until it reports

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as error:  # every failure reaches the GUI as a signal
            self.signals.failed.emit(error)
        else:
            self.signals.done.emit(result)


_running: set[Task] = set()


def run_task(
    fn: Callable[..., Any],
    *args: Any,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    pool: QThreadPool | None = None,
    **kwargs: Any,
) -> Task:
    """Run `fn(*args, **kwargs)` off the GUI thread; call back on the GUI thread."""
    task = Task(fn, *args, **kwargs)
    _running.add(task)

    def finish(_: object = None) -> None:
        _running.discard(task)

    if on_done is not None:
        task.signals.done.connect(on_done)
    if on_error is not None:
        task.signals.failed.connect(on_error)
    task.signals.done.connect(finish)
    task.signals.failed.connect(finish)
    (pool or QThreadPool.globalInstance()).start(task)
    return task


def pending() -> int:
    """Return how many tasks have not reported yet."""
    return len(_running)
