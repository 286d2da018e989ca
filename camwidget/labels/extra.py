"""What needs the ``labels`` extra (Sentence-BERT synonym grouping, PostgreSQL), and the one-line
error that says how to get it. The label store on SQLite and label text need only the core."""
from __future__ import annotations

import importlib
from types import ModuleType

#: How to install what this module guards.
INSTALL = 'pip install "camwidget[labels]"'


class MissingExtra(ModuleNotFoundError):
    """A feature of the ``labels`` extra was used without it installed."""


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` for ``what``; without it, one line naming :data:`INSTALL`."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the module is there but something it needs is broken: show that
        raise MissingExtra(f"{what} needs the labels extra ({module} is not installed): {INSTALL}", name=module) from None
