// The class picker: the top-5 classes with their scores — softmax probabilities, sigmoid
// probabilities (multi-label) or shares of the output pixels (segmentation: the classes present),
// labelled by what they are — plus any class by name or index.
import type { TopEntry } from "./types";

/** What the user typed → a target to send: an index (digits or "#123") or the name as written. */
export function parseTarget(text: string, classes: string[] | null): number | string | null {
  const t = text.trim();
  if (!t) return null;
  const m = /^#?(\d+)$/.exec(t);
  if (m) return Number(m[1]);
  if (classes) {
    const lower = t.toLowerCase();
    const exact = classes.findIndex((c) => c.toLowerCase() === lower);
    if (exact >= 0) return exact;
  }
  return t; // Python resolves names (and explains what it could not match)
}

export function percent(p: number): string {
  return Number.isFinite(p) ? `${(p * 100).toFixed(1)}%` : "";
}

export class ClassPicker {
  readonly el: HTMLElement;
  private select: HTMLSelectElement;
  private kind: HTMLElement;
  private input: HTMLInputElement;
  private list: HTMLDataListElement;
  private top: TopEntry[] = [];
  private classes: string[] | null = null;
  private target: number | null = null;
  private static uid = 0;

  constructor(doc: Document, private onTarget: (target: number | string) => void) {
    this.el = doc.createElement("div");
    this.el.className = "cw-class";
    const label = doc.createElement("label");
    label.textContent = "Class";
    this.kind = doc.createElement("span");
    this.kind.className = "cw-score-kind";
    this.kind.setAttribute("data-testid", "score-kind");
    this.select = doc.createElement("select");
    this.select.setAttribute("data-testid", "class-select");
    this.select.setAttribute("aria-label", "Target class");
    this.select.addEventListener("change", () => {
      const v = Number(this.select.value);
      if (Number.isInteger(v)) this.onTarget(v);
    });
    this.input = doc.createElement("input");
    this.input.type = "text";
    this.input.placeholder = "any class: name or #index";
    this.input.setAttribute("aria-label", "Any class by name or index");
    this.list = doc.createElement("datalist");
    this.list.id = `cw-classes-${++ClassPicker.uid}`;
    this.input.setAttribute("list", this.list.id);
    const apply = () => {
      const t = parseTarget(this.input.value, this.classes);
      if (t !== null) this.onTarget(t);
    };
    this.input.addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") apply();
    });
    this.input.addEventListener("change", apply);
    label.append(this.kind, this.select);
    this.el.append(label, this.input, this.list);
  }

  setTop(top: TopEntry[]): void {
    this.top = Array.isArray(top) ? top : [];
    const kind = this.top[0]?.score_kind ?? "";
    this.kind.textContent = kind ? `(${kind})` : "";
    this.kind.dataset.kind = kind; // the ordinary softmax case is only a tooltip (widget.css)
    this.select.title = kind ? `Target class — the score shown is its ${kind}` : "Target class";
    this.render();
  }

  setClasses(classes: string[] | null): void {
    this.classes = Array.isArray(classes) && classes.length ? classes : null;
    const doc = this.el.ownerDocument;
    this.list.replaceChildren(
      ...(this.classes ?? []).map((name) => {
        const o = doc.createElement("option");
        o.value = name;
        return o;
      }),
    );
  }

  setTarget(value: unknown): void {
    this.target = typeof value === "number" && Number.isInteger(value) ? value : null;
    this.render();
  }

  private name(i: number): string {
    return this.classes?.[i] ?? `class ${i}`;
  }

  private render(): void {
    const doc = this.el.ownerDocument;
    const options: HTMLOptionElement[] = this.top.map((t) => {
      const o = doc.createElement("option");
      o.value = String(t.index);
      o.textContent = `${t.name} — ${percent(t.score)}`;
      return o;
    });
    if (this.target !== null && !this.top.some((t) => t.index === this.target)) {
      const o = doc.createElement("option");
      o.value = String(this.target);
      o.textContent = `${this.name(this.target)} (#${this.target})`;
      options.push(o);
    }
    this.select.replaceChildren(...options);
    if (this.target !== null) this.select.value = String(this.target);
  }
}
