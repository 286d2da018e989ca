// The method picker: the methods come from the engine's registry (the `methods` trait), and each
// method's parameter controls are rendered generically from its schema — nothing is hard-coded.
import type { MethodEntry, ParamSchema } from "./types";

/** Coerce a control's text to the schema's type and bounds; undefined when it is not valid. */
export function coerceParam(schema: ParamSchema, raw: string | boolean): unknown {
  const type = schema.type ?? (typeof schema.default === "number" ? "float" : "str");
  if (type === "bool") return typeof raw === "boolean" ? raw : raw === "true";
  if (schema.choices && schema.choices.length) {
    const hit = schema.choices.find((c) => String(c) === String(raw));
    return hit === undefined ? undefined : hit;
  }
  if (type === "int" || type === "float") {
    const text = String(raw).trim();
    if (text === "") return schema.nullable || schema.default === null ? null : undefined;
    let v = Number(text);
    if (!Number.isFinite(v)) return undefined;
    if (type === "int") v = Math.round(v);
    if (typeof schema.min === "number") v = Math.max(schema.min, v);
    if (typeof schema.max === "number") v = Math.min(schema.max, v);
    return v;
  }
  return String(raw);
}

export class MethodPicker {
  readonly el: HTMLElement;
  private select: HTMLSelectElement;
  private paramsEl: HTMLElement;
  private moreButton: HTMLButtonElement;
  private moreEl: HTMLElement;
  private moreOpen = false;
  private methods: MethodEntry[] = [];
  private method = "";
  private params: Record<string, unknown> = {};

  constructor(
    doc: Document,
    private onMethod: (method: string) => void,
    private onParams: (params: Record<string, unknown>) => void,
  ) {
    this.el = doc.createElement("div");
    this.el.className = "cw-method";
    const label = doc.createElement("label");
    label.textContent = "Method";
    this.select = doc.createElement("select");
    this.select.setAttribute("data-testid", "method-select");
    this.select.setAttribute("aria-label", "Explanation method");
    this.select.addEventListener("change", () => this.onMethod(this.select.value));
    label.append(this.select);
    this.paramsEl = doc.createElement("span");
    this.paramsEl.className = "cw-params";
    // The secondary parameters: folded behind a disclosure button, a row of their own when open.
    this.moreEl = doc.createElement("span");
    this.moreEl.className = "cw-params-more";
    this.moreEl.id = `cw-params-more-${Math.random().toString(36).slice(2)}`;
    this.moreEl.setAttribute("data-testid", "params-more");
    this.moreEl.setAttribute("role", "group");
    this.moreEl.setAttribute("aria-label", "More parameters");
    this.moreEl.addEventListener("keydown", (e) => {
      if (e.key !== "Escape" || !this.moreOpen) return;
      e.stopPropagation();
      this.setMoreOpen(false);
      this.moreButton.focus();
    });
    this.moreButton = doc.createElement("button");
    this.moreButton.type = "button";
    this.moreButton.className = "cw-more";
    this.moreButton.setAttribute("data-testid", "params-more-toggle");
    this.moreButton.setAttribute("aria-controls", this.moreEl.id);
    this.moreButton.addEventListener("click", () => this.setMoreOpen(!this.moreOpen));
    this.el.append(label, this.paramsEl, this.moreEl);
  }

  private setMoreOpen(open: boolean): void {
    this.moreOpen = open;
    const folded = this.moreEl.childElementCount;
    this.moreEl.hidden = !open || folded === 0;
    this.moreButton.setAttribute("aria-expanded", String(open));
    this.moreButton.textContent = open ? "less" : `more… (${folded})`;
    this.moreButton.title = open ? "Fold the secondary parameters" : `${folded} more parameter${folded === 1 ? "" : "s"}`;
  }

  setMethods(methods: MethodEntry[]): void {
    this.methods = Array.isArray(methods) ? methods : [];
    const doc = this.el.ownerDocument;
    this.select.replaceChildren(
      ...this.methods.map((m) => {
        const o = doc.createElement("option");
        o.value = m.name;
        o.textContent = m.label || m.name;
        return o;
      }),
    );
    this.setMethod(this.method, this.params);
  }

  setMethod(method: string, params: Record<string, unknown> | null): void {
    this.method = method;
    this.params = params ?? {};
    this.select.value = method;
    this.renderParams();
  }

  private renderParams(): void {
    const doc = this.el.ownerDocument;
    const entry = this.methods.find((m) => m.name === this.method);
    const schema = entry?.params ?? {};
    const primary = Array.isArray(entry?.primary) ? new Set(entry.primary) : null;
    const controls: HTMLElement[] = [];
    const folded: HTMLElement[] = [];
    for (const [name, spec] of Object.entries(schema)) {
      const wrap = doc.createElement("label");
      wrap.className = "cw-param";
      const text = doc.createElement("span");
      text.textContent = spec.label ?? name;
      text.title = spec.label ?? name; // the full label where the toolbar cuts it
      if (typeof spec.limit === "number") wrap.title = `up to ${spec.limit} (the kernel refuses more unless raised)`;
      const value = name in this.params ? this.params[name] : spec.default;
      let control: HTMLInputElement | HTMLSelectElement;
      if (spec.choices && spec.choices.length) {
        const sel = doc.createElement("select");
        for (const c of spec.choices) {
          const o = doc.createElement("option");
          o.value = String(c);
          o.textContent = String(c);
          sel.append(o);
        }
        sel.value = String(value);
        control = sel;
      } else if (spec.type === "bool") {
        const box = doc.createElement("input");
        box.type = "checkbox";
        box.checked = Boolean(value);
        control = box;
      } else {
        const input = doc.createElement("input");
        const numeric = spec.type === "int" || spec.type === "float" || typeof spec.default === "number";
        input.type = numeric ? "number" : "text";
        if (typeof spec.min === "number") input.min = String(spec.min);
        if (typeof spec.max === "number") input.max = String(spec.max);
        input.step = spec.type === "int" ? "1" : "any";
        input.value = value === undefined || value === null ? "" : String(value);
        control = input;
      }
      control.dataset.param = name;
      if (spec.nullable || spec.default === null) control.setAttribute("placeholder", "auto");
      control.addEventListener("change", () => {
        const input = control as HTMLInputElement;
        const raw = input.type === "checkbox" ? input.checked : control.value;
        const v = coerceParam(spec, raw);
        if (v === undefined) return;
        this.params = { ...this.params, [name]: v };
        if (input.type === "number") input.value = v === null ? "" : String(v);
        this.onParams(this.params);
      });
      wrap.append(text, control);
      (primary === null || primary.has(name) ? controls : folded).push(wrap);
    }
    this.moreEl.replaceChildren(...folded);
    this.paramsEl.replaceChildren(...controls, ...(folded.length ? [this.moreButton] : []));
    this.setMoreOpen(this.moreOpen);
  }
}
