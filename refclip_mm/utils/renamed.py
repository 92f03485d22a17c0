"""Arguments the package has renamed: an old name is refused with a message naming the new one
(a config written for the old name fails at build time, not silently later)."""
from typing import Any, Mapping


def refuse_renamed(kwargs: Mapping[str, Any], renamed: Mapping[str, str], owner: str,
                   others_allowed: bool = True) -> None:
    """Raise if ``kwargs`` holds an old argument name.

    Args:
        kwargs: the keyword arguments ``owner`` was given beyond its own.
        renamed: old name -> new name.
        owner: the class or function (named in the message, e.g. a config ``type``).
        others_allowed: ``False``: any other name in ``kwargs`` is an error too.

    Raises:
        TypeError: an old name (the message names the new one), or an unknown name.
    """
    for old, new in renamed.items():
        if old in kwargs:
            raise TypeError(f'{owner}: the argument {old!r} is now called {new!r}; rename it in '
                            f'the config ({old}={kwargs[old]!r} -> {new}=...)')
    if not others_allowed and kwargs:
        raise TypeError(f'{owner} got unexpected arguments {sorted(kwargs)}')
