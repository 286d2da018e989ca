// Status line (what is on screen, whether the kernel is working) and the error area. Errors stay
// until the next successful answer or until dismissed; the widget stays usable meanwhile.

export class StatusBar {
  readonly el: HTMLElement;
  private text: HTMLElement;
  private spinner: HTMLElement;
  private bar: HTMLProgressElement;
  readonly errorEl: HTMLElement;
  private errorText: HTMLElement;

  constructor(doc: Document) {
    this.el = doc.createElement("div");
    this.el.className = "cw-status";
    this.el.setAttribute("data-testid", "status");
    this.el.setAttribute("role", "status");
    this.el.setAttribute("aria-live", "polite");
    this.spinner = doc.createElement("span");
    this.spinner.className = "cw-spinner";
    this.text = doc.createElement("span");
    this.text.className = "cw-status-text";
    this.bar = doc.createElement("progress");
    this.bar.className = "cw-progress";
    this.bar.max = 1;
    this.bar.hidden = true;
    this.el.append(this.spinner, this.text, this.bar);

    this.errorEl = doc.createElement("div");
    this.errorEl.className = "cw-error";
    this.errorEl.setAttribute("data-testid", "error");
    this.errorEl.setAttribute("role", "alert");
    this.errorText = doc.createElement("span");
    const close = doc.createElement("button");
    close.type = "button";
    close.textContent = "×";
    close.title = "Dismiss";
    close.addEventListener("click", () => this.setError(""));
    this.errorEl.append(this.errorText, close);
    this.errorEl.hidden = true;
  }

  setStatus(text: string, busy: boolean): void {
    this.text.textContent = text;
    this.el.classList.toggle("cw-busy", busy);
    this.el.dataset.busy = busy ? "true" : "false";
  }

  /** Fraction done in [0, 1] for slow methods; anything else hides the bar. */
  setProgress(fraction: number, busy: boolean): void {
    const show = busy && Number.isFinite(fraction) && fraction >= 0 && fraction <= 1;
    this.bar.hidden = !show;
    if (show) this.bar.value = fraction;
  }

  setError(text: string): void {
    this.errorText.textContent = text;
    this.errorEl.hidden = !text;
  }
}
