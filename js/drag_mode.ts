// What a drag on the image selects, for a segmentation model: the layer's neurons (the `region`
// trait, as for every model) or a box of the model's output pixels (the `target_box` trait: the
// segmentation target becomes the class's score summed over that box). Shown only when the kernel
// sends an `output_shape`; view-only (the choice itself never reaches the kernel).

export type DragTarget = "neurons" | "output";

export class DragMode {
  readonly el: HTMLElement;
  private buttons: Record<DragTarget, HTMLInputElement>;
  private current: DragTarget = "output";
  private static uid = 0;

  constructor(doc: Document, private onChange: (mode: DragTarget) => void) {
    this.el = doc.createElement("div");
    this.el.className = "cw-drag-mode";
    this.el.setAttribute("role", "radiogroup");
    this.el.setAttribute("data-testid", "drag-mode");
    this.el.hidden = true;
    const title = doc.createElement("span");
    title.textContent = "Drag selects";
    this.el.append(title);
    const group = `cw-drag-${++DragMode.uid}`;
    const option = (mode: DragTarget, text: string, tip: string) => {
      const input = doc.createElement("input");
      input.type = "radio";
      input.name = group;
      input.value = mode;
      input.setAttribute("data-testid", `drag-${mode}`);
      input.addEventListener("change", () => {
        if (input.checked) this.set(mode, true);
      });
      const label = doc.createElement("label");
      label.title = tip;
      const span = doc.createElement("span");
      span.textContent = text;
      label.append(input, span);
      this.el.append(label);
      return input;
    };
    this.buttons = {
      output: option("output", "output pixels", "Drag a box of the output map: explain the class's score summed over it"),
      neurons: option("neurons", "neurons", "Drag a region of this layer's neurons: the weights come from those neurons only"),
    };
    this.buttons.output.checked = true;
  }

  get mode(): DragTarget {
    return this.el.hidden ? "neurons" : this.current;
  }

  /** Shown only for a segmentation model (one with an output map to select on). */
  setAvailable(available: boolean): void {
    if (this.el.hidden === !available) return;
    this.el.hidden = !available;
    this.onChange(this.mode);
  }

  set(mode: DragTarget, notify = false): void {
    this.current = mode;
    this.buttons[mode].checked = true;
    this.el.dataset.mode = mode;
    if (notify) this.onChange(this.mode);
  }
}
