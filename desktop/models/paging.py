"""A table model that pages a server list in lazily, one request at a time, off the GUI thread.

The model holds only the rows fetched so far: `rowCount` grows as pages arrive, so a view over
100,000 accounts costs what the visible pages cost. Every query (filter, sort, refresh) starts
a new generation; an answer that belongs to an older generation is dropped when it arrives.
At most one request is in flight per model: a new query made while an older one is still on
the wire waits for it, which also coalesces a burst of keystrokes in a search box into the
first and the last query.

Subclasses say what one page is (`_load_page`, run on a worker thread), how a row reads
(`_describe`, also run on the worker, so the GUI thread only appends ready strings) and what
the other roles answer (`_role_data`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, override

from pydantic import BaseModel
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from shiboken6 import isValid

from desktop.api.client import BankClient
from desktop.text import tr
from desktop.workers import run_task
from shared.schemas.common import Page

Index = QModelIndex | QPersistentModelIndex

MAX_PAGE_SIZE = 200  # the API's `limit` cap

DISPLAY = int(Qt.ItemDataRole.DisplayRole)
USER = int(Qt.ItemDataRole.UserRole)
TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter

_ROOT = QModelIndex()
_FLAGS = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemNeverHasChildren


def _fetch[T](
    load: Callable[[dict[str, Any]], Page[T]],
    params: dict[str, Any],
    describe: Callable[[T], tuple[str, ...]],
) -> tuple[Page[T], list[tuple[str, ...]]]:
    """Load one page and prepare its display texts (on a worker thread)."""
    page = load(params)
    return page, [describe(item) for item in page.items]


class PagedTableModel[T: BaseModel](QAbstractTableModel):
    """Rows of one server list, fetched a page at a time as a view scrolls."""

    loading_changed = Signal(bool)
    load_failed = Signal(object)
    total_changed = Signal(int)

    HEADERS: ClassVar[tuple[str, ...]] = ()
    # Column -> the server's sort field, for the columns the server can sort by.
    SORT_FIELDS: ClassVar[dict[int, str]] = {}
    RIGHT_ALIGNED: ClassVar[frozenset[int]] = frozenset()
    DEFAULT_SORT: ClassVar[tuple[str, str]] = ("id", "asc")
    # The roles `data` answers (`_role_data` answers FOREGROUND and TOOLTIP). A view asks
    # every cell for about eight roles at each paint; the others get None at once.
    ROLES: ClassVar[frozenset[int]] = frozenset({DISPLAY, USER, ALIGNMENT, FOREGROUND, TOOLTIP})

    def __init__(self, client: BankClient, page_size: int = 100, parent: Any = None) -> None:
        super().__init__(parent)
        self._client = client
        self._page_size = max(1, min(MAX_PAGE_SIZE, int(page_size)))
        self._rows: list[T] = []
        self._texts: list[tuple[str, ...]] = []
        self._row_of: dict[int, int] = {}
        self._offset = 0  # server rows consumed by this generation (duplicates included)
        self._total: int | None = None  # unknown until this generation's first page arrives
        self._generation = 0
        self._in_flight: int | None = None  # generation of the request on the wire, if any
        self._queued = False  # this generation waits for a stale request to finish
        self._error: BaseException | None = None
        self._loading = False
        self._sort, self._order = self.DEFAULT_SORT

    # -- what subclasses provide ---------------------------------------------------------

    def _ready(self) -> bool:
        """Tell whether the model has enough to ask the server (an account, say)."""
        return True

    def _query_params(self) -> dict[str, Any]:
        """Return the current filter as request parameters (read on the GUI thread)."""
        return {}

    @staticmethod
    def _load_page(client: BankClient, params: dict[str, Any]) -> Page[T]:
        """Fetch one page with a client (worker thread: use only the arguments)."""
        raise NotImplementedError

    @staticmethod
    def _describe(item: Any) -> tuple[str, ...]:
        """Return the DisplayRole text of every column (worker thread: pure)."""
        raise NotImplementedError

    def _role_data(self, item: T, column: int, role: int) -> Any:
        """Answer the roles other than DisplayRole and UserRole."""
        return None

    # -- state ---------------------------------------------------------------------------

    @property
    def client(self) -> BankClient:
        """Return the client the next requests go through."""
        return self._client

    @client.setter
    def client(self, client: BankClient) -> None:
        """Send the next requests through another client (signed in again, say)."""
        self._client = client

    @property
    def total(self) -> int | None:
        """Return how many rows the server has for the query (None until known)."""
        return self._total

    @property
    def loading(self) -> bool:
        """Tell whether a page of the current query is being fetched."""
        return self._loading

    @property
    def error(self) -> BaseException | None:
        """Return why the last load of the current query failed, if it did."""
        return self._error

    @property
    def page_size(self) -> int:
        """Return how many rows one request asks for."""
        return self._page_size

    @property
    def sort_field(self) -> str:
        """Return the server field the rows are sorted by."""
        return self._sort

    @property
    def sort_order(self) -> str:
        """Return "asc" or "desc"."""
        return self._order

    def item_at(self, row: int) -> T | None:
        """Return the object shown on a row, or None outside the loaded rows."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, item_id: int) -> int | None:
        """Return the row showing the object with this id, if it is loaded."""
        return self._row_of.get(item_id)

    def items(self) -> list[T]:
        """Return the loaded objects in row order (a copy)."""
        return list(self._rows)

    def replace(self, item: T) -> bool:
        """Show a newer version of a loaded object in place; tell whether it was loaded."""
        row = self._row_of.get(self._id(item))
        if row is None:
            return False
        self._rows[row] = item
        self._texts[row] = self._describe(item)
        self.dataChanged.emit(self.index(row, 0), self.index(row, self.columnCount() - 1))
        return True

    def is_sortable(self, column: int) -> bool:
        """Tell whether the server can sort by a column."""
        return column in self.SORT_FIELDS

    def refresh(self) -> None:
        """Drop the loaded rows and load the first page of the same query again."""
        self._reload()

    # -- Qt model ------------------------------------------------------------------------

    @override
    def rowCount(self, parent: Index = _ROOT) -> int:
        """Return how many rows are loaded (not the server's total)."""
        return 0 if parent.isValid() else len(self._rows)

    @override
    def columnCount(self, parent: Index = _ROOT) -> int:
        """Return the number of columns."""
        return 0 if parent.isValid() else len(self.HEADERS)

    @override
    def flags(self, index: Index) -> Qt.ItemFlag:
        """Rows are selectable, never editable, never have children."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _FLAGS

    @override
    def data(self, index: Index, role: int = DISPLAY) -> Any:
        """Answer from the loaded rows only; never touch the network."""
        if role not in self.ROLES or not index.isValid():
            return None
        row, column = index.row(), index.column()
        if row >= len(self._rows) or column >= len(self.HEADERS):
            return None
        if role == DISPLAY:
            return self._texts[row][column]
        if role == USER:
            return self._rows[row]
        if role == ALIGNMENT and column in self.RIGHT_ALIGNED:
            return RIGHT
        return self._role_data(self._rows[row], column, role)

    @override
    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = DISPLAY
    ) -> Any:  # fmt: skip
        """Return readable column titles."""
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self.HEADERS):
                return None
            if role == DISPLAY:
                return self._header(section)
            if role == ALIGNMENT and section in self.RIGHT_ALIGNED:
                return RIGHT
            if role == TOOLTIP and section in self.SORT_FIELDS:
                return tr("Click to sort by {column}").format(column=self._header(section).lower())
            return None
        return super().headerData(section, orientation, role)

    def _header(self, section: int) -> str:
        return tr(self.HEADERS[section])

    @override
    def canFetchMore(self, parent: Index) -> bool:
        """Tell whether the server has rows not loaded yet (False after a failed load)."""
        if parent.isValid() or self._error is not None or not self._ready():
            return False
        if self._generation == 0:  # no query yet: a model loads when it is told to
            return False
        return self._total is None or self._offset < self._total

    @override
    def fetchMore(self, parent: Index) -> None:
        """Request the next page off the GUI thread, unless one is already on its way."""
        if not self.canFetchMore(parent) or self._in_flight == self._generation or self._queued:
            return
        self._request()

    @override
    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort on the server by a sortable column and reload; other columns are ignored."""
        field = self.SORT_FIELDS.get(column)
        if field is None:
            return
        direction = "desc" if order == Qt.SortOrder.DescendingOrder else "asc"
        if (field, direction) == (self._sort, self._order):
            return
        self._sort, self._order = field, direction
        if self._generation:  # before the first query, only remember the order
            self._reload()

    # -- loading -------------------------------------------------------------------------

    @staticmethod
    def _id(item: Any) -> int:
        return int(item.id)

    def _reload(self) -> None:
        """Start a new generation: forget the rows and load its first page."""
        self._generation += 1
        self.beginResetModel()
        self._rows, self._texts, self._row_of = [], [], {}
        self._offset, self._total, self._error = 0, None, None
        self.endResetModel()
        self._queued = False
        if self._ready():
            self._request()
        self._sync_loading()

    def _request(self) -> None:
        if self._in_flight is not None:
            # A stale request is still on the wire: go when it answers.
            self._queued = self._in_flight != self._generation
            self._sync_loading()
            return
        params = {
            **self._query_params(),
            "skip": self._offset,
            "limit": self._page_size,
            "sort": self._sort,
            "order": self._order,
        }
        generation = self._generation
        self._in_flight = generation
        self._sync_loading()
        run_task(
            _fetch,
            partial(self._load_page, self._client),
            params,
            self._describe,
            on_done=partial(self._arrived, generation),
            on_error=partial(self._failed, generation),
        )

    def _settle(self, generation: int) -> bool:
        """Note a request's end; tell whether its answer still matters."""
        if not isValid(self):  # the model was deleted while the request ran
            return False
        self._in_flight = None
        if generation == self._generation:
            return True
        if self._queued:
            self._queued = False
            self._request()
        self._sync_loading()
        return False

    def _arrived(self, generation: int, result: tuple[Page[T], list[tuple[str, ...]]]) -> None:
        if not self._settle(generation):
            return
        page, texts = result
        # The server may serve fewer rows than asked (its MAX_PAGE_SIZE): page by what it
        # says it served, and ask for that from now on.
        requested = min(self._page_size, page.limit) if page.limit > 0 else self._page_size
        self._page_size = requested
        fresh = [
            (item, text)
            for item, text in zip(page.items, texts, strict=True)
            if self._id(item) not in self._row_of  # offset paging can repeat a shifted row
        ]
        self._offset += len(page.items)
        # A short page means the list ended here, whatever the total said before.
        total = self._offset if len(page.items) < requested else max(page.total, self._offset)
        # Settle the total first: views ask canFetchMore while handling rowsInserted.
        announce = total != self._total or self._total is None
        self._total = total
        if fresh:
            first = len(self._rows)
            self.beginInsertRows(_ROOT, first, first + len(fresh) - 1)
            for item, text in fresh:
                self._row_of[self._id(item)] = len(self._rows)
                self._rows.append(item)
                self._texts.append(text)
            self.endInsertRows()
        self._sync_loading()
        if announce:
            self.total_changed.emit(total)

    def _failed(self, generation: int, error: BaseException) -> None:
        if not self._settle(generation):
            return
        self._error = error
        self._sync_loading()
        self.load_failed.emit(error)

    def _sync_loading(self) -> None:
        loading = self._in_flight == self._generation or self._queued
        if loading != self._loading:
            self._loading = loading
            self.loading_changed.emit(loading)
