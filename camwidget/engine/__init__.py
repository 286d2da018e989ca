"""The explanation engine: no notebook, no widget imports — usable from scripts, CLI and batch jobs."""
from . import methods, targets
from .capture import hook_count
from .explanation import Explanation
from .layers import LayerInfo
from .session import Session

__all__ = ["Explanation", "LayerInfo", "Session", "hook_count", "methods", "targets"]
