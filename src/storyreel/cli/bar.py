"""The console progress bar (rich): phase, percent, frames per second and ETA."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from storyreel.render.progress import Progress as RenderProgress
from storyreel.words import phase_words

__all__ = ["ProgressBar"]

_UNITS = {"narrate": "seg/s", "analyse": "seg/s", "export": "fps"}


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = task.fields.get("rate")
        unit = task.fields.get("unit", "")
        if not rate or not unit:
            return Text("")
        return Text(f"{rate:6.1f} {unit}", style="progress.data.speed")


class ProgressBar:
    """Draws :class:`storyreel.Progress` updates; one bar per phase, and per video in a
    render for several platforms (``Making the video (shorts 2/3)``)."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            TaskProgressColumn(),
            _RateColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._opening: dict[tuple[str, str], str] = {}

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, update: RenderProgress) -> None:
        if update.phase == "done":
            return
        which = (update.phase, update.output)
        task = self._tasks.get(which)
        words = phase_words(update.phase)
        if update.output:
            words += f" ({update.output} {update.output_index + 1}/{update.outputs})"
        if task is None:
            task = self._progress.add_task(words, total=update.total,
                                           unit=_UNITS.get(update.phase, ""), rate=None)
            self._tasks[which] = task
            self._opening[which] = update.message
        # The phase in the shared words; news said during it (parts reused...) after them.
        news = update.message if update.message != self._opening[which] else ""
        self._progress.update(task, description=f"{words}: {news}" if news else words,
                              completed=update.done, total=update.total, rate=update.rate)
