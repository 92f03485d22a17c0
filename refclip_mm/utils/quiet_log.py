"""Leave out of the mmengine log the messages a user should not act on, and nothing else."""
import contextlib
import logging
from typing import Iterator, Sequence

from mmengine.logging import MMLogger


class DropMessages(logging.Filter):
    """A logging filter that drops the records whose message contains any of ``texts``."""

    def __init__(self, texts: Sequence[str]):
        super().__init__()
        self.texts = tuple(texts)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.texts)


@contextlib.contextmanager
def dropped_log_messages(*texts: str) -> Iterator[DropMessages]:
    """Within the block, the current mmengine logger drops the messages containing any of
    ``texts`` (the filter is removed afterwards, also on an error)."""
    logger = MMLogger.get_current_instance()
    quiet = DropMessages(texts)
    logger.addFilter(quiet)
    try:
        yield quiet
    finally:
        logger.removeFilter(quiet)
