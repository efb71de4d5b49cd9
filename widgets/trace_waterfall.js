// The trace waterfall: one row per step, indented under its parent, a bar on the trace's time
// axis, tokens and cost at the end. Only the rows on screen are drawn. Click (or Enter) shows a
// step's whole content below; the toggle (or Right/Left) expands and collapses a subtree.
// Text from the data is set with textContent only.

const FOLD_CHARACTERS = 2000;
const FOLD_LINES = 30;
const TYPES = ["thought", "action", "observation", "tool_call", "final_answer"];

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function ticks(total) {
  if (!(total > 0)) return [0];
  const raw = total / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const out = [];
  for (let t = 0; t <= total + 1e-9; t += step) out.push(t);
  return out;
}

function msText(ms) {
  if (ms >= 60000) return `${(ms / 60000).toFixed(1)} min`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10000 ? 0 : 1)} s`;
  return `${Math.round(ms)} ms`;
}

class Waterfall {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.cursor = -1; // position in the visible list
    this.build();
  }

  build() {
    const { model, el } = this;
    el.classList.add("aa-waterfall");
    this.legend = element("div", "aa-wf-legend");
    for (const type of TYPES) {
      const item = element("span", "aa-wf-legend-item");
      item.append(element("span", `aa-wf-swatch aa-wf-type-${type}`), element("span", "", type));
      this.legend.append(item);
    }
    this.axis = element("div", "aa-wf-axis");
    this.viewport = element("div", "aa-wf-viewport");
    this.viewport.tabIndex = 0;
    this.viewport.setAttribute("role", "tree");
    this.viewport.setAttribute("aria-label", "Trace steps");
    this.spacer = element("div", "aa-wf-spacer");
    this.layer = element("div", "aa-wf-rows");
    this.viewport.append(this.spacer, this.layer);
    this.detail = element("div", "aa-wf-detail");
    el.append(this.legend, this.axis, this.viewport, this.detail);
    this.viewport.addEventListener("scroll", () => this.draw());
    this.viewport.addEventListener("keydown", (event) => this.key(event));
    this.layer.addEventListener("click", (event) => {
      const toggle = event.target.closest(".aa-wf-toggle");
      const row = event.target.closest(".aa-wf-row");
      if (!row) return;
      const index = Number(row.dataset.index);
      if (toggle) this.toggle(index);
      else this.select(index);
    });
    this.onRows = () => this.refresh();
    for (const name of ["rows", "expanded", "total_ms", "slowest", "costliest"]) {
      model.on(`change:${name}`, this.onRows);
    }
    this.onDetail = () => this.drawDetail();
    model.on("change:detail", this.onDetail);
    this.refresh();
    this.drawDetail();
  }

  destroy() {
    for (const name of ["rows", "expanded", "total_ms", "slowest", "costliest"]) {
      this.model.off(`change:${name}`, this.onRows);
    }
    this.model.off("change:detail", this.onDetail);
  }

  get rowHeight() {
    return this.model.get("row_height");
  }

  visibleRows() {
    const rows = this.model.get("rows");
    const open = new Set(this.model.get("expanded"));
    const hidden = new Set();
    const out = [];
    for (const row of rows) {
      if (row.parent !== null && (hidden.has(row.parent) || !open.has(row.parent))) {
        hidden.add(row.index);
        continue;
      }
      out.push(row);
    }
    return out;
  }

  refresh() {
    this.visible = this.visibleRows();
    this.cursor = Math.min(this.cursor, this.visible.length - 1);
    const height = Math.min(this.model.get("height"), Math.max(1, this.visible.length) * this.rowHeight);
    this.viewport.style.height = `${height}px`;
    this.spacer.style.height = `${this.visible.length * this.rowHeight}px`;
    this.drawAxis();
    this.draw();
  }

  drawAxis() {
    const total = this.model.get("total_ms");
    const scale = element("div", "aa-wf-scale");
    for (const t of ticks(total)) {
      const tick = element("span", "aa-wf-tick", msText(t));
      tick.style.left = `${total > 0 ? (t / total) * 100 : 0}%`;
      scale.append(tick);
    }
    this.axis.replaceChildren(element("div", "aa-wf-label-head", "Step"), scale, element("div", "aa-wf-end-head", "Tokens · Cost"));
  }

  draw() {
    const visible = this.visible;
    const height = this.rowHeight;
    const first = Math.floor(this.viewport.scrollTop / height);
    const count = Math.min(visible.length - first, Math.ceil(this.model.get("height") / height) + 1);
    const total = this.model.get("total_ms");
    const open = new Set(this.model.get("expanded"));
    const selected = this.model.get("selected");
    const slowest = this.model.get("slowest");
    const costliest = this.model.get("costliest");
    this.layer.style.transform = `translateY(${first * height}px)`;
    const out = [];
    for (let i = 0; i < count; i++) {
      const row = visible[first + i];
      const node = element("div", "aa-wf-row");
      node.dataset.index = String(row.index);
      node.dataset.type = row.type;
      node.dataset.depth = String(row.depth);
      node.setAttribute("role", "treeitem");
      node.setAttribute("aria-level", String(row.depth + 1));
      node.style.height = `${height}px`;
      if (row.index === selected) node.classList.add("aa-wf-selected");
      if (first + i === this.cursor) node.classList.add("aa-wf-cursor");
      const label = element("div", "aa-wf-label");
      label.style.paddingLeft = `${4 + row.depth * 16}px`;
      if (row.children > 0) {
        const expanded = open.has(row.index);
        node.setAttribute("aria-expanded", String(expanded));
        const toggle = element("button", "aa-wf-toggle", expanded ? "▾" : "▸");
        toggle.type = "button";
        toggle.tabIndex = -1;
        toggle.setAttribute("aria-label", `${expanded ? "Collapse" : "Expand"} ${row.children} nested steps`);
        label.append(toggle);
      } else {
        label.append(element("span", "aa-wf-leaf"));
      }
      label.append(element("span", "aa-wf-step", row.step), element("span", `aa-wf-type aa-wf-type-${row.type}`, row.type));
      label.append(element("span", "aa-wf-preview", row.preview));
      if (row.index === slowest) label.append(element("span", "aa-wf-mark aa-wf-slowest", "slowest"));
      if (row.index === costliest) label.append(element("span", "aa-wf-mark aa-wf-costliest", "most expensive"));
      label.title = row.preview;
      const track = element("div", "aa-wf-track");
      const bar = element("div", `aa-wf-bar aa-wf-type-${row.type}`);
      const left = total > 0 ? (row.start / total) * 100 : 0;
      const width = total > 0 && row.duration !== null ? (row.duration / total) * 100 : 0;
      bar.style.left = `${left}%`;
      bar.style.width = `max(2px, ${width}%)`;
      bar.title = `${row.step} ${row.type}: starts at ${msText(row.start)}, takes ${row.duration_text}`;
      track.append(bar, element("span", "aa-wf-duration", row.duration_text));
      const end = element("div", "aa-wf-end", `${row.tokens} · ${row.cost}`);
      node.append(label, track, end);
      out.push(node);
    }
    this.layer.replaceChildren(...out);
  }

  drawDetail() {
    const detail = this.model.get("detail");
    if (!detail || detail.index === undefined) {
      this.detail.replaceChildren();
      this.detail.hidden = true;
      return;
    }
    this.detail.hidden = false;
    const head = element("div", "aa-wf-detail-head");
    head.append(element("span", "aa-wf-detail-title", detail.title));
    const close = element("button", "aa-wf-close", "Close");
    close.type = "button";
    close.addEventListener("click", () => this.select(-1));
    head.append(close);
    const content = detail.content;
    const pre = element("pre", `aa-wf-content aa-wf-${detail.format}`);
    const lines = content.split("\n");
    const long = content.length > FOLD_CHARACTERS || lines.length > FOLD_LINES;
    const parts = [head, pre];
    if (long) {
      pre.textContent = lines.slice(0, FOLD_LINES).join("\n").slice(0, FOLD_CHARACTERS) + "\n…";
      const more = element("button", "aa-wf-more", `Show all (${content.length.toLocaleString()} characters)`);
      more.type = "button";
      more.addEventListener("click", () => {
        pre.textContent = content;
        more.remove();
      });
      parts.push(more);
    } else {
      pre.textContent = content === "" ? "(no content)" : content;
    }
    this.detail.replaceChildren(...parts);
  }

  toggle(index) {
    const expanded = this.model.get("expanded");
    const next = expanded.includes(index) ? expanded.filter((i) => i !== index) : [...expanded, index];
    this.model.set("expanded", next);
    this.model.save_changes();
    this.refresh();
  }

  select(index) {
    this.model.set("selected", index);
    this.model.save_changes();
    this.draw();
  }

  key(event) {
    const visible = this.visible;
    if (!visible.length) return;
    const row = visible[this.cursor];
    const page = Math.max(1, Math.floor(this.model.get("height") / this.rowHeight) - 1);
    let next = null;
    if (event.key === "ArrowDown") next = this.cursor + 1;
    else if (event.key === "ArrowUp") next = this.cursor - 1;
    else if (event.key === "PageDown") next = this.cursor + page;
    else if (event.key === "PageUp") next = this.cursor - page;
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = visible.length - 1;
    else if (event.key === "ArrowRight" && row && row.children && !this.model.get("expanded").includes(row.index)) this.toggle(row.index);
    else if (event.key === "ArrowLeft" && row && this.model.get("expanded").includes(row.index)) this.toggle(row.index);
    else if (event.key === "Enter" && row) this.select(row.index);
    else if (event.key === "Escape") this.select(-1);
    else return;
    event.preventDefault();
    if (next !== null) {
      this.cursor = Math.max(0, Math.min(visible.length - 1, next));
      const top = this.cursor * this.rowHeight;
      if (top < this.viewport.scrollTop) this.viewport.scrollTop = top;
      else if (top + this.rowHeight > this.viewport.scrollTop + this.viewport.clientHeight) {
        this.viewport.scrollTop = top + this.rowHeight - this.viewport.clientHeight;
      }
      this.draw();
    }
  }
}

export default {
  render({ model, el }) {
    const waterfall = new Waterfall(model, el);
    return () => waterfall.destroy();
  },
};
