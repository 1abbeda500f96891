"""Small local state shared by services: a SQLite file behind one worker thread."""

from shared.storage.sqlite_worker import SqliteWorker

__all__ = ["SqliteWorker"]
