"""The request-log model over a long session: does dropping the oldest rows stay cheap?

    .venv/bin/python bench/log_model.py              # 60 trims of 200 rows at the 10 000-row cap
    .venv/bin/python bench/log_model.py --trims 20   # quicker

Side by side in one run, each behind the same filter proxy and a shown ``QTableView``
(offscreen, 1100×800, scrolled to the bottom as auto-scroll does):

- ``RequestLogModel`` (``launcher.gui.logmodel``): a ``QAbstractTableModel`` over a Python list,
  cells made on demand;
- the same with the log view's own cell painter (``launcher.gui.logdelegate.LogCellDelegate``), as
  the window shows it, against Qt's ``QStyledItemDelegate`` in the row above;
- a ``QStandardItemModel`` holding every cell as a C++ item, as the first version of the log did
  (rows scrolled past the bottom of the view got their cells made, so every row ends up filled).

Each model starts full (10 000 rows); then, *trims* times, a batch of ``--batch`` rows arrives:
the oldest rows go in one remove, the new ones in one insert, the view repaints.  It prints the
remove's cost at the first and the last trims, and the median repaint.  Limits: offscreen
software rendering; one machine, noisy; the figures that matter are the ratios and the trend.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CAP = 10_000


def make_records(count: int, start: int) -> list:
    from launcher.requestlog import RequestRecord

    now = time.time()
    return [
        RequestRecord(
            start + i,
            now,
            "https" if i % 2 else "http",
            "127.0.0.1",
            40000 + i % 20000,
            "GET",
            f"/items/{start + i}",
            "page=2",
            "HTTP/1.1",
            200,
            1234,
            1.7,
            "TLSv1.3" if i % 2 else None,
            "TLS_AES_256_GCM_SHA384" if i % 2 else None,
            "h2load nghttp2/1.52.0",
            (("Host", "localhost"),),
            (("Content-Type", "text/html"),),
        )
        for i in range(count)
    ]


class ItemModelLog:
    """The first version's way: every cell a ``QStandardItem`` (set with ``setItemData``)."""

    def __init__(self) -> None:
        from PySide6.QtGui import QStandardItemModel

        from launcher.gui.logmodel import COLUMNS

        self.model = QStandardItemModel(0, len(COLUMNS))
        self.model.setHorizontalHeaderLabels(list(COLUMNS))

    def append(self, records: list) -> None:
        from PySide6.QtCore import Qt

        from launcher.gui.logmodel import row_cells, search_text

        model = self.model
        excess = model.rowCount() + len(records) - CAP
        if excess > 0:
            model.removeRows(0, excess)
        first = model.rowCount()
        model.insertRows(first, len(records))
        display, tip = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole
        for offset, record in enumerate(records):
            cells = row_cells(record)
            for column, text in enumerate(cells.display):
                data = {display: text or ""}
                if cells.tooltip[column]:
                    data[tip] = cells.tooltip[column]
                if column == 0:
                    data[Qt.ItemDataRole.UserRole + 2] = search_text(record)
                model.setItemData(model.index(first + offset, column), data)

    def remove_oldest(self, count: int) -> None:
        self.model.removeRows(0, count)


class OurLog:
    def __init__(self) -> None:
        from launcher.gui.logmodel import RequestLogModel

        self.model = RequestLogModel(cap=CAP)

    def append(self, records: list) -> None:
        self.model.append_records(records)

    def remove_oldest(self, count: int) -> None:
        model = self.model
        model.beginRemoveRows(model.index(0, 0).parent(), 0, count - 1)
        del model._records[:count], model._cells[:count], model._search[:count]
        model.endRemoveRows()


def run(kind: str, trims: int, batch: int) -> dict[str, float]:
    from PySide6.QtWidgets import QApplication, QTableView

    from launcher.gui.logmodel import RequestFilterProxy

    app = QApplication.instance() or QApplication([])
    log = ItemModelLog() if kind == "items" else OurLog()
    proxy = RequestFilterProxy()
    proxy.setSourceModel(log.model)
    view = QTableView()
    view.setModel(proxy)
    if kind == "painted":
        from launcher.gui.logdelegate import LogCellDelegate

        view.setItemDelegate(LogCellDelegate(log.model, proxy, view))
    view.resize(1100, 800)
    view.show()
    log.append(make_records(CAP, 0))
    view.scrollToBottom()
    app.processEvents()
    removes: list[float] = []
    repaints: list[float] = []
    for n in range(trims):
        started = time.perf_counter()
        log.remove_oldest(batch)
        removes.append((time.perf_counter() - started) * 1000)
        log.append(make_records(batch, CAP + n * batch))
        view.scrollToBottom()
        started = time.perf_counter()
        view.viewport().repaint()
        repaints.append((time.perf_counter() - started) * 1000)
        app.processEvents()
    view.close()
    return {
        "first_remove_ms": statistics.median(removes[:3]),
        "last_remove_ms": statistics.median(removes[-3:]),
        "repaint_ms": statistics.median(repaints),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trims", type=int, default=60, help="batches after the cap is reached (default 60)")
    parser.add_argument("--batch", type=int, default=200, help="rows per batch (default 200)")
    args = parser.parse_args()
    print(f"Request-log model at its {CAP:,}-row cap, {args.trims} batches of {args.batch} rows, view shown")
    ours = run("ours", args.trims, args.batch)
    painted = run("painted", args.trims, args.batch)
    items = run("items", args.trims, args.batch)
    for label, r in (
        ("RequestLogModel (QAbstractTableModel)", ours),
        ("the same, painted by LogCellDelegate", painted),
        ("QStandardItemModel, cells as items", items),
    ):
        print(
            f"  {label:40s} remove oldest: {r['first_remove_ms']:6.2f} ms at first, "
            f"{r['last_remove_ms']:6.2f} ms after {args.trims} trims; repaint {r['repaint_ms']:5.1f} ms"
        )
    remove_ratio = ours["last_remove_ms"] / items["last_remove_ms"]
    print(
        f"  side by side after {args.trims} trims: remove {remove_ratio:.3f}×,"
        f" repaint {ours['repaint_ms'] / items['repaint_ms']:.2f}× the item model's;"
        f" LogCellDelegate repaints in {painted['repaint_ms'] / ours['repaint_ms']:.2f}× Qt's delegate's time"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
