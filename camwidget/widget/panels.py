"""The widget's panels, in the order they hear each answer (one line per panel; see docs/develop.md)."""
from __future__ import annotations

from .clusters import Clusters
from .faithfulness import Faithfulness
from .filmstrip import Filmstrip
from .maps import FeatureMaps
from .overlay import Overlay
from .panel import Panel
from .reveal import RevealGame

#: The overlay first (the map is what the user waits for), the feature-map atlas last (it waits
#: until the selection is still).
PANELS: tuple[type[Panel], ...] = (Overlay, Clusters, RevealGame, FeatureMaps, Faithfulness, Filmstrip)
