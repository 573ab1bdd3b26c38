"""The commands a test's own MongoDB client sends, to check what a query asks for and reads."""

from __future__ import annotations

from pymongo import monitoring


class CommandLog(monitoring.CommandListener):
    """The commands a client sent (pymongo's command monitoring)."""

    def __init__(self):
        self.commands, self.replies = [], []

    def started(self, event):
        self.commands.append(event)

    def succeeded(self, event):
        self.replies.append(event.reply)

    def documents_returned(self) -> int:
        cursors = [r["cursor"] for r in self.replies if "cursor" in r]
        return sum(len(c.get("firstBatch", c.get("nextBatch", []))) for c in cursors)

    def failed(self, event):
        pass
