// The view's panels, in the order they sit in the main area (one line per panel; see docs/develop.md).
import { mapsPanel } from "./channel_grid";
import { clustersPanel } from "./clusters";
import { faithfulnessPanel } from "./faithfulness";
import { filmstripPanel } from "./filmstrip";
import type { PanelFactory } from "./panel";
import { revealPanel } from "./reveal";

export const PANELS: PanelFactory[] = [revealPanel, mapsPanel, clustersPanel, faithfulnessPanel, filmstripPanel];
