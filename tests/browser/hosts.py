"""What every host test does with the widget, once it is on the page: the same person's steps.

The steps use only the page (the widget's test ids and data- attributes), so they run unchanged in
JupyterLab, Notebook 7, Voila and marimo (where the widget lives in a shadow root: Playwright's
CSS locators pierce it, and the page scripts here search shadow roots too).
"""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "out" / "screenshots"

# Finds the widget's root, also inside (open) shadow roots; `sel` is a selector inside the root.
FIND = """
const cwFind = (sel) => {
  const walk = (node) => {
    const hit = node.querySelector(sel);
    if (hit) return hit;
    for (const el of node.querySelectorAll('*')) if (el.shadowRoot) { const h = walk(el.shadowRoot); if (h) return h; }
    return null;
  };
  return walk(document);
};
"""


def js(body: str) -> str:
    """A page function with ``cwFind`` in scope."""
    return "(arg) => {" + FIND + body + "}"


def wait_painted(page, layer: str, timeout: float = 90_000) -> None:
    page.wait_for_function(js("return cwFind('.cw-root')?.dataset.paintedLayer === arg;"), arg=layer, timeout=timeout)


def wait_idle(page, timeout: float = 60_000) -> None:
    page.wait_for_function(
        js("const s = cwFind('[data-testid=status]'); return !!s && !s.classList.contains('cw-busy');"), timeout=timeout
    )


def painted_request(page) -> int:
    return int(page.evaluate(js("return Number(cwFind('.cw-root')?.dataset.paintedRequest || 0);")))


def wait_painted_after(page, request: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        js("return Number(cwFind('.cw-root')?.dataset.paintedRequest || 0) > arg;"), arg=request, timeout=timeout
    )


def canvas_digest(page) -> str:
    return page.evaluate(js("""
        const c = cwFind('[data-testid=heatmap-canvas]');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let h = 0;
        for (let i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) | 0;
        return c.width + 'x' + c.height + ':' + h;
    """))


def drag(page, a: dict, b: dict, steps: int = 10) -> None:
    page.mouse.move(a["x"], a["y"])
    page.mouse.down()
    page.mouse.move(b["x"], b["y"], steps=steps)
    page.mouse.up()


def centre(box: dict) -> dict:
    return {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}


def person_uses_the_widget(page) -> dict:
    """Renders; strip by drag and by keys; method and class pickers; region drag; tile click.

    Each step is checked on the page: the kernel's answer for the new selection is painted.
    Returns what was chosen, for the caller to compare with the Python side where it can."""
    page.locator("[data-testid=heatmap-canvas]").wait_for(timeout=90_000)
    for testid in ("layer-strip", "class-select", "method-select", "region-selector", "channel-grid", "status", "colorbar"):
        assert page.locator(f"[data-testid={testid}]").count() == 1, testid
    wait_painted(page, "bn2")
    before = canvas_digest(page)
    strip = page.locator("[data-testid=layer-strip]")

    # 1. Drag the strip three stops to the left.
    active = strip.locator(".cw-stop.cw-active")
    index = int(active.get_attribute("data-index"))
    goal = strip.locator(".cw-stop").nth(index - 3)
    goal_layer = goal.get_attribute("data-layer")
    drag(page, centre(active.bounding_box()), centre(goal.bounding_box()), steps=8)
    wait_painted(page, goal_layer)
    assert canvas_digest(page) != before, "the heatmap did not change after the layer drag"
    assert goal_layer in page.locator("[data-testid=layer-caption]").inner_text()

    # 2. Keys: the strip keeps them (the host does not move focus to another cell).
    strip.focus()
    page.keyboard.press("ArrowLeft")
    key_layer = strip.get_attribute("data-layer")
    assert key_layer != goal_layer
    wait_painted(page, key_layer)
    assert page.evaluate(js("return document.activeElement && (document.activeElement === cwFind('[data-testid=layer-strip]')"
                            " || document.activeElement.shadowRoot?.activeElement === cwFind('[data-testid=layer-strip]'));")), \
        "the host took the arrow key: focus left the strip"
    page.keyboard.press("ArrowRight")
    wait_painted(page, goal_layer)

    # 3. Region drag on the image: the status names the region.
    shape = [int(v) for v in goal.locator(".cw-stop-shape").inner_text().split("×")]
    box = page.locator("[data-testid=region-selector]").bounding_box()
    drag(page, {"x": box["x"] + 0.25 * box["width"], "y": box["y"] + 0.2 * box["height"]},
         {"x": box["x"] + 0.6 * box["width"], "y": box["y"] + 0.7 * box["height"]})
    region = [int(0.2 * shape[1]), int(0.25 * shape[2]), int(0.7 * shape[1]) + 1, int(0.6 * shape[2]) + 1]
    page.wait_for_function(js("return cwFind('[data-testid=status]').textContent.includes('region rows ' + arg);"),
                           arg=f"{region[0]}–{region[2] - 1}", timeout=60_000)

    # 4. A feature-map tile.
    page.wait_for_function(js("return cwFind('[data-testid=channel-grid]')?.dataset.layer === arg;"), arg=goal_layer,
                           timeout=60_000)
    tile = page.locator("[data-testid=channel-grid] .cw-tile").nth(0)
    channel = int(tile.get_attribute("data-channel"))
    tile.click()
    page.wait_for_function(js("return cwFind('[data-testid=status]').textContent.includes('1 of ');"), timeout=60_000)

    # 5. Class and method pickers.
    request = painted_request(page)
    page.select_option("[data-testid=class-select]", "282")  # tiger cat, in the top 5
    wait_painted_after(page, request)
    request = painted_request(page)
    page.select_option("[data-testid=method-select]", "gradcam")
    page.wait_for_function(js("return cwFind('.cw-root')?.dataset.paintedMethod === 'gradcam';"), timeout=60_000)
    assert "tiger cat" in page.locator("[data-testid=status]").inner_text()
    assert "Grad-CAM" in page.locator("[data-testid=colorbar-meaning]").inner_text() or \
        "class evidence" in page.locator("[data-testid=colorbar-meaning]").inner_text()
    wait_idle(page)
    assert page.locator("[data-testid=error]").is_hidden(), page.locator("[data-testid=error]").inner_text()
    return {"layer": goal_layer, "region": region, "channels": [channel], "target": 282, "method": "gradcam"}


# WCAG 2 relative luminance and contrast, over every visible text of the widget.
CONTRAST = """
const parse = (c) => {
  const srgb = c.match(/color\\(srgb ([^)]+)\\)/);
  if (srgb) { const p = srgb[1].split(/[ /]+/).filter(Boolean).map(Number); return [p[0] * 255, p[1] * 255, p[2] * 255, p.length > 3 ? p[3] : 1]; }
  const m = c.match(/rgba?\\(([^)]+)\\)/); if (!m) throw new Error('colour not understood: ' + c);
  const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
const over = (top, bottom) => { const a = top[3]; return [0, 1, 2].map((i) => top[i] * a + bottom[i] * (1 - a)).concat([1]); };
const parentOf = (el) => el.parentElement || (el.parentNode && el.parentNode.host) || null;
const background = (el) => {
  const layers = [];
  for (let e = el; e; e = parentOf(e)) {
    const c = parse(getComputedStyle(e).backgroundColor);
    if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
  }
  let bg = [255, 255, 255, 1];
  if (layers.length && layers[layers.length - 1][3] >= 1) bg = layers.pop();
  while (layers.length) bg = over(layers.pop(), bg);
  return bg;
};
const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
const ratio = (a, b) => { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); };
const root = cwFind('.cw-root');
const rows = [];
const all = [root, ...root.querySelectorAll('*')];
for (const el of all) {
  const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent.trim()).join('');
  const control = el.matches('select, input[type=text], input[type=number], button');
  if (!text && !control) continue;
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height || el.closest('[hidden]')) continue;
  const bg = background(el);
  const fg = over(parse(getComputedStyle(el).color), bg);
  rows.push({ what: (el.className || el.tagName) + ': ' + (text || el.value || '').slice(0, 30), ratio: ratio(fg, bg),
              bg: bg.slice(0, 3).map(Math.round).join(','), fg: fg.slice(0, 3).map(Math.round).join(',') });
}
rows.sort((a, b) => a.ratio - b.ratio);
return { count: rows.length, worst: rows.slice(0, 5), background: background(root).slice(0, 3) };
"""


def contrast(page) -> dict:
    """The lowest text/background contrast ratios of the widget's visible texts and controls."""
    return page.evaluate(js(CONTRAST))


def assert_readable(page, dark: bool) -> None:
    report = contrast(page)
    assert report["count"] > 20, report
    lum = sum(report["background"]) / 3
    assert (lum < 100) if dark else (lum > 150), f"the widget's background is not {'dark' if dark else 'light'}: {report}"
    assert report["worst"][0]["ratio"] >= 4.5, f"text below WCAG AA (4.5:1): {report['worst']}"
    # Every control is drawn dark on a dark page too (no white select or input left).
    controls = page.evaluate(js(CONTRAST.split("const root = cwFind")[0] + """
        const root = cwFind('.cw-root');
        return [...root.querySelectorAll('select, input[type=text], input[type=number], button')]
          .filter((e) => e.getBoundingClientRect().width && !e.closest('[hidden]'))
          .map((e) => [e.tagName + '.' + e.className, background(e).slice(0, 3).reduce((a, b) => a + b, 0) / 3]);
    """))
    wrong = [c for c in controls if (c[1] >= 110 if dark else c[1] <= 140)]
    assert controls and not wrong, f"controls not drawn {'dark' if dark else 'light'}: {wrong}"


# Whether each box is entirely on screen without scrolling: inside the viewport, and what the page
# shows at its centre and near its four corners is the box itself (not clipped by a scrolling
# ancestor, not covered by the host's own bars).
ON_SCREEN = """
const deepHit = (x, y) => {
  let hit = document.elementFromPoint(x, y);
  while (hit && hit.shadowRoot) { const inner = hit.shadowRoot.elementFromPoint(x, y); if (!inner || inner === hit) break; hit = inner; }
  return hit;
};
const out = {};
for (const id of arg) {
  const el = cwFind('[data-testid=' + id + ']');
  if (!el) { out[id] = 'missing'; continue; }
  const r = el.getBoundingClientRect();
  const box = [r.top, r.bottom, r.left, r.right].map(Math.round);
  if (!(r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth && r.height > 0)) {
    out[id] = box.concat(['outside the viewport ' + innerWidth + 'x' + innerHeight]); continue;
  }
  const dx = Math.min(4, r.width / 4), dy = Math.min(4, r.height / 4);
  const points = [[(r.left + r.right) / 2, (r.top + r.bottom) / 2], [r.left + dx, r.top + dy], [r.right - dx, r.top + dy],
                  [r.left + dx, r.bottom - dy], [r.right - dx, r.bottom - dy]];
  const bad = points.filter(([x, y]) => { const h = deepHit(x, y); return !h || !(el === h || el.contains(h)); });
  out[id] = bad.length ? box.concat(['covered or clipped at ' + JSON.stringify(bad.map((p) => p.map(Math.round)))
                                      + ' by ' + String(deepHit(bad[0][0], bad[0][1])?.className).slice(0, 50)]) : true;
}
return out;
"""

LAPTOP_BOXES = ["region-selector", "colorbar", "layer-strip", "status"]  # region-selector lies on the image


def assert_on_one_screen(page) -> None:
    seen = page.evaluate(js(ON_SCREEN), LAPTOP_BOXES)
    if not all(v is True for v in seen.values()):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "not-on-one-screen.png"))
    assert all(v is True for v in seen.values()), f"not all visible without scrolling at {page.viewport_size}: {seen}"


def toolbar_rows(page) -> int:
    """How many rows the toolbar's controls take."""
    return page.evaluate(js("""
        const bar = cwFind('.cw-toolbar');
        const mids = [];
        for (const el of bar.querySelectorAll('select, input, button')) {
          const r = el.getBoundingClientRect();
          if (r.width && !el.closest('[hidden]')) mids.push((r.top + r.bottom) / 2);
        }
        mids.sort((a, b) => a - b);
        let rows = 0, last = -1e9;
        for (const m of mids) { if (m - last > 10) rows += 1; last = m; }
        return rows;
    """))


def wait_complete(page, timeout: float = 90_000) -> None:
    """Until the view is whole: the filmstrip on every stop, the faithfulness numbers shown."""
    page.wait_for_function(js("""
        const strip = cwFind('[data-testid=filmstrip]'), numbers = cwFind('[data-testid=faithfulness-numbers]');
        return Number(strip?.dataset.drawn || 0) > 0 && !!numbers && numbers.textContent.trim() !== '';
    """), timeout=timeout)


def shoot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.mouse.move(1, 1)  # no hover highlight left from the last step in the picture
    page.locator(".cw-root").screenshot(path=str(path))
    return path
