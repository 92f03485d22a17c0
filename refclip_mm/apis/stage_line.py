"""One line per stage on the console: what the demo and ToyWorld print while they run."""
import sys
import time
from typing import Callable, List, Optional


class StageLine:
    """Prints one line per stage: a progress bar while it runs (on a terminal), then its time
    and output. ``total``: the number of stages, shown as ``[3/8]`` (``None``: ``[3]``)."""

    def __init__(self, total: Optional[int] = None, stream=None, width: int = 58):
        self.total, self.count, self.width = total, 0, width
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, 'isatty') and self.stream.isatty()
        self.rows: List[tuple] = []

    def _title(self, title: str) -> str:
        count = f'{self.count}/{self.total}' if self.total else f'{self.count}'
        return f'[{count}] {title}'[:self.width].ljust(self.width)

    def cached(self, title: str, output: str) -> None:
        """The line of a stage whose output exists already (nothing runs)."""
        self.count += 1
        self.stream.write(f'{self._title(title)} cached  {output}\n')
        self.stream.flush()

    def progress(self, title: str) -> Callable[[int, int], None]:
        def show(done: int, total: int) -> None:
            if self.tty:
                filled = int(20 * done / max(total, 1))
                self.stream.write(f'\r{self._title(title)} [{"#" * filled}{"." * (20 - filled)}] '
                                  f'{done}/{total}')
                self.stream.flush()
        return show

    def run(self, title: str, fn: Callable[[Callable[[int, int], None]], tuple]):
        """Run ``fn(progress)`` -> ``(result, output path or None)``; print the stage's line."""
        self.count += 1
        if self.tty:
            self.stream.write(self._title(title))
            self.stream.flush()
        start = time.time()
        result, output = fn(self.progress(title))
        seconds = time.time() - start
        line = f'{self._title(title)} {seconds:6.1f} s  {output or ""}'.rstrip()
        self.stream.write(f'\r{line}{" " * 12}\n' if self.tty else f'{line}\n')
        self.stream.flush()
        self.rows.append((title, result, seconds, output))
        return result
