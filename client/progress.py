"""Rich progress bars, one per running call, fed by MCP progress notifications.

    with ProgressBars() as bars:
        await host.call_tool("genai.sample_images", args, progress=bars.track("sample_images"))

A bar appears with the call's first report; a call whose server sends no total gets a pulsing bar.
"""

from __future__ import annotations

from types import TracebackType

from mcp.shared.dispatcher import ProgressFnT
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["ProgressBars"]


class ProgressBars:
    """A live group of bars on `console` (default: stderr, so stdout stays for results)."""

    def __init__(self, console: Console | None = None, *, transient: bool = False):
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=transient,
        )

    def __enter__(self) -> ProgressBars:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def track(self, label: str) -> ProgressFnT:
        """A progress callback for one call, drawing its own bar labelled `label` and the server's message."""
        task: TaskID | None = None

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            nonlocal task
            description = f"{label}: {message}" if message else label
            if task is None:
                task = self._progress.add_task(description, total=total)
            self._progress.update(task, description=description, completed=progress, total=total)

        return on_progress
