// The executions grid: a toolbar of filters, sortable headers and a scrolling body that draws
// only the rows on screen. Row ranges come from the kernel ({kind: "rows"} messages); at most
// MAX_PAGES pages are kept here. Text from the data is set with textContent only.

const PAGE = 50;
const MAX_PAGES = 12;
const MAX_SPACER = 8000000; // px: browsers cap element heights; longer lists scroll scaled
const REQUEST_DELAY = 60; // ms after scrolling pauses before rows are asked for

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function filterField(grid, key, label, attributes) {
  const wrap = element("label", "aa-grid-filter");
  wrap.append(element("span", "", label));
  const input = element(attributes.tag || "input");
  input.dataset.filter = key;
  for (const [name, value] of Object.entries(attributes)) {
    if (name !== "tag" && name !== "options") input.setAttribute(name, value);
  }
  for (const option of attributes.options || []) {
    const choice = element("option", "", option[1]);
    choice.value = option[0];
    input.append(choice);
  }
  wrap.append(input);
  grid.inputs[key] = input;
  return wrap;
}

function toolbar(grid) {
  const bar = element("div", "aa-grid-toolbar");
  const statuses = [["", "any"], ["success", "success"], ["failure", "failure"], ["timeout", "timeout"]];
  bar.append(
    filterField(grid, "search", "Search", { type: "search", placeholder: "text in the query" }),
    filterField(grid, "status", "Status", { tag: "select", options: statuses }),
    filterField(grid, "agent", "Agent", { list: grid.listId("agents"), placeholder: "name or id" }),
    filterField(grid, "model", "Model", { list: grid.listId("models"), placeholder: "any" }),
    filterField(grid, "min_cost", "Cost from $", { type: "number", min: "0", step: "any" }),
    filterField(grid, "max_cost", "to $", { type: "number", min: "0", step: "any" }),
    filterField(grid, "min_duration_ms", "Duration from ms", { type: "number", min: "0", step: "1" }),
    filterField(grid, "max_duration_ms", "to ms", { type: "number", min: "0", step: "1" }),
  );
  const clear = element("button", "aa-grid-clear", "Clear filters");
  clear.type = "button";
  clear.addEventListener("click", () => {
    for (const input of Object.values(grid.inputs)) input.value = "";
    grid.applyFilters();
  });
  bar.append(clear);
  for (const name of ["agents", "models"]) {
    const list = element("datalist");
    list.id = grid.listId(name);
    bar.append(list);
    grid.lists[name] = list;
  }
  let timer = null;
  for (const input of Object.values(grid.inputs)) {
    const now = () => {
      clearTimeout(timer);
      grid.applyFilters();
    };
    input.addEventListener("change", now);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") now();
    });
    if (input.dataset.filter === "search") {
      input.addEventListener("input", () => {
        clearTimeout(timer);
        timer = setTimeout(() => grid.applyFilters(), 400);
      });
    }
  }
  return bar;
}

class Grid {
  constructor(model, el) {
    this.model = model;
    this.el = el;
    this.inputs = {};
    this.lists = {};
    this.pages = new Map(); // page index -> rows
    this.pending = new Set();
    this.cursor = -1; // the keyboard's row
    this.timer = null;
    this.uid = Math.random().toString(36).slice(2);
    this.build();
  }

  listId(name) {
    return `aa-grid-${name}-${this.uid}`;
  }

  build() {
    const { model, el } = this;
    el.classList.add("aa-grid");
    this.label = element("div", "aa-grid-label");
    this.error = element("div", "aa-grid-error");
    this.error.setAttribute("role", "alert");
    this.head = element("div", "aa-grid-head");
    this.head.setAttribute("role", "row");
    this.viewport = element("div", "aa-grid-viewport");
    this.viewport.tabIndex = 0;
    this.viewport.setAttribute("role", "grid");
    this.viewport.setAttribute("aria-label", "Executions");
    this.spacer = element("div", "aa-grid-spacer");
    this.layer = element("div", "aa-grid-rows");
    this.viewport.append(this.spacer, this.layer);
    this.status = element("div", "aa-grid-status");
    el.append(this.label, toolbar(this), this.error, this.head, this.viewport, this.status);
    this.viewport.addEventListener("scroll", () => this.scrolled());
    this.viewport.addEventListener("keydown", (event) => this.key(event));
    this.layer.addEventListener("click", (event) => {
      const row = event.target.closest(".aa-grid-row");
      if (row && row.dataset.id) this.open(Number(row.dataset.index));
    });
    this.onMessage = (message) => this.received(message);
    model.on("msg:custom", this.onMessage);
    this.onChange = () => this.reset();
    model.on("change:version", this.onChange);
    model.on("change:total", this.onChange);
    this.onHead = () => this.drawHead();
    model.on("change:sort_by", this.onHead);
    model.on("change:sort_order", this.onHead);
    this.onText = () => this.drawText();
    for (const name of ["error", "label", "agents", "models"]) model.on(`change:${name}`, this.onText);
    this.onFilters = () => this.showFilters();
    model.on("change:filters", this.onFilters);
    this.drawHead();
    this.drawText();
    this.showFilters();
    this.reset();
  }

  destroy() {
    const { model } = this;
    model.off("msg:custom", this.onMessage);
    model.off("change:version", this.onChange);
    model.off("change:total", this.onChange);
    model.off("change:sort_by", this.onHead);
    model.off("change:sort_order", this.onHead);
    for (const name of ["error", "label", "agents", "models"]) model.off(`change:${name}`, this.onText);
    model.off("change:filters", this.onFilters);
    clearTimeout(this.timer);
  }

  get rowHeight() {
    return this.model.get("row_height");
  }

  get total() {
    return this.model.get("total");
  }

  drawText() {
    this.label.textContent = this.model.get("label");
    this.error.textContent = this.model.get("error");
    this.error.hidden = !this.model.get("error");
    for (const name of ["agents", "models"]) {
      this.lists[name].replaceChildren(
        ...this.model.get(name).map((value) => {
          const option = element("option");
          option.value = value;
          return option;
        }),
      );
    }
  }

  showFilters() {
    const filters = this.model.get("filters") || {};
    for (const [key, input] of Object.entries(this.inputs)) input.value = filters[key] ?? "";
  }

  applyFilters() {
    const filters = {};
    for (const [key, input] of Object.entries(this.inputs)) filters[key] = input.value;
    this.model.set("filters", filters);
    this.model.save_changes();
  }

  drawHead() {
    const sortBy = this.model.get("sort_by");
    const order = this.model.get("sort_order");
    this.head.replaceChildren(
      ...this.model.get("columns").map((column) => {
        const cell = element(column.sort ? "button" : "div", "aa-grid-cell aa-grid-th");
        cell.setAttribute("role", "columnheader");
        cell.dataset.column = column.key;
        if (column.numeric) cell.classList.add("aa-num");
        const active = column.sort && column.sort === sortBy;
        cell.textContent = column.title + (active ? (order === "desc" ? " ▼" : " ▲") : "");
        if (column.sort) {
          cell.type = "button";
          cell.setAttribute("aria-sort", active ? (order === "desc" ? "descending" : "ascending") : "none");
          cell.addEventListener("click", () => this.sort(column.sort));
        }
        return cell;
      }),
    );
  }

  sort(column) {
    const same = this.model.get("sort_by") === column;
    const order = same && this.model.get("sort_order") === "desc" ? "asc" : "desc";
    this.model.set("sort_by", column);
    this.model.set("sort_order", order);
    this.model.save_changes();
  }

  // --- scrolling: which rows are on screen ---------------------------------------------------

  spacerHeight() {
    return Math.min(this.total * this.rowHeight, MAX_SPACER);
  }

  visibleCount() {
    return Math.ceil(this.model.get("height") / this.rowHeight) + 1;
  }

  firstVisible() {
    const full = this.total * this.rowHeight;
    const top = this.viewport.scrollTop;
    if (full <= MAX_SPACER) return Math.floor(top / this.rowHeight);
    const room = Math.max(1, this.spacerHeight() - this.viewport.clientHeight);
    const rows = Math.max(0, this.total - this.visibleCount() + 1);
    return Math.min(rows, Math.floor((top / room) * rows));
  }

  scrollToRow(index) {
    const full = this.total * this.rowHeight;
    if (full <= MAX_SPACER) {
      const top = index * this.rowHeight;
      const bottom = top + this.rowHeight - this.viewport.clientHeight;
      if (top < this.viewport.scrollTop) this.viewport.scrollTop = top;
      else if (bottom > this.viewport.scrollTop) this.viewport.scrollTop = bottom;
    } else {
      const first = this.firstVisible();
      const shown = this.visibleCount() - 2;
      if (index >= first && index < first + shown) return;
      const rows = Math.max(1, this.total - this.visibleCount() + 1);
      const room = Math.max(1, this.spacerHeight() - this.viewport.clientHeight);
      const target = index < first ? index : index - shown + 1;
      this.viewport.scrollTop = Math.ceil((Math.max(0, target) / rows) * room);
    }
    this.draw();
  }

  reset() {
    this.pages.clear();
    this.pending.clear();
    this.cursor = -1; // a new list: back to its top
    this.viewport.scrollTop = 0;
    this.viewport.style.height = `${this.model.get("height")}px`;
    this.spacer.style.height = `${this.spacerHeight()}px`;
    this.draw();
    this.request();
  }

  scrolled() {
    this.draw();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.request(), REQUEST_DELAY);
  }

  // --- pages from the kernel ---------------------------------------------------------------

  wantedPages() {
    const first = this.firstVisible();
    const last = Math.min(this.total - 1, first + this.visibleCount());
    const pages = [];
    for (let page = Math.floor(first / PAGE); page <= Math.floor(last / PAGE); page++) pages.push(page);
    return pages;
  }

  request() {
    if (this.total === 0) return;
    const version = this.model.get("version");
    for (const page of this.wantedPages()) {
      if (this.pages.has(page) || this.pending.has(page)) continue;
      this.pending.add(page);
      this.model.send({ kind: "rows", offset: page * PAGE, limit: PAGE, version });
    }
  }

  received(message) {
    if (!message || message.kind !== "rows") return;
    if (message.version !== this.model.get("version")) return; // for a list since replaced
    const page = Math.floor(message.offset / PAGE);
    this.pending.delete(page);
    if (message.error) {
      this.error.textContent = message.error;
      this.error.hidden = false;
      return;
    }
    this.pages.set(page, message.rows);
    const here = Math.floor(this.firstVisible() / PAGE);
    while (this.pages.size > MAX_PAGES) {
      let farthest = null;
      for (const key of this.pages.keys()) {
        if (farthest === null || Math.abs(key - here) > Math.abs(farthest - here)) farthest = key;
      }
      this.pages.delete(farthest);
    }
    this.draw();
  }

  rowAt(index) {
    const rows = this.pages.get(Math.floor(index / PAGE));
    return rows ? rows[index % PAGE] : undefined;
  }

  // --- drawing ---------------------------------------------------------------------------------

  draw() {
    const total = this.total;
    const first = this.firstVisible();
    const count = Math.max(0, Math.min(this.visibleCount(), total - first));
    const scaled = total * this.rowHeight > MAX_SPACER;
    const top = scaled ? this.viewport.scrollTop : first * this.rowHeight;
    this.layer.style.transform = `translateY(${top}px)`;
    const columns = this.model.get("columns");
    const rows = [];
    for (let i = 0; i < count; i++) {
      const index = first + i;
      const data = this.rowAt(index);
      const row = element("div", "aa-grid-row");
      row.setAttribute("role", "row");
      row.dataset.index = String(index);
      row.style.height = `${this.rowHeight}px`;
      if (index === this.cursor) row.classList.add("aa-grid-cursor");
      if (data) {
        row.dataset.id = data.id;
        row.dataset.status = data.status;
        data.cells.forEach((text, c) => {
          const cell = element("div", "aa-grid-cell", text);
          cell.setAttribute("role", "gridcell");
          cell.title = text;
          if (columns[c].numeric) cell.classList.add("aa-num");
          if (columns[c].key === "status") {
            cell.textContent = "";
            cell.append(element("span", `aa-grid-badge aa-status-${data.status}`, text));
          }
          row.append(cell);
        });
        if (data.new) {
          row.classList.add("aa-grid-new");
          row.firstChild.prepend(element("span", "aa-grid-new-badge", "new"));
        }
      } else {
        row.classList.add("aa-grid-loading");
        row.append(element("div", "aa-grid-cell", "…"));
      }
      rows.push(row);
    }
    this.layer.replaceChildren(...rows);
    const shown = count ? `rows ${(first + 1).toLocaleString()}–${(first + count).toLocaleString()} of ` : "";
    const more = this.model.get("counting") ? "+ (counting…)" : "";
    this.status.textContent = total
      ? `${shown}${total.toLocaleString()}${more} executions`
      : "No executions match.";
  }

  // --- keyboard and opening ----------------------------------------------------------------

  key(event) {
    const total = this.total;
    if (!total) return;
    const step = { ArrowDown: 1, ArrowUp: -1, PageDown: this.visibleCount() - 2, PageUp: 2 - this.visibleCount() };
    let next = null;
    if (event.key in step) next = (this.cursor < 0 ? this.firstVisible() - (step[event.key] > 0 ? 1 : 0) : this.cursor) + step[event.key];
    else if (event.key === "Home") next = 0;
    else if (event.key === "End") next = total - 1;
    else if (event.key === "Enter" && this.cursor >= 0) {
      this.open(this.cursor);
    } else if (event.key === "Escape") {
      this.cursor = -1;
      this.draw();
    } else return;
    event.preventDefault();
    if (next !== null) {
      this.cursor = Math.max(0, Math.min(total - 1, next));
      this.scrollToRow(this.cursor);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.request(), REQUEST_DELAY);
    }
  }

  open(index) {
    const data = this.rowAt(index);
    if (!data) return;
    this.cursor = index;
    this.draw();
    this.model.send({ kind: "open", id: data.id });
  }
}

export default {
  render({ model, el }) {
    const grid = new Grid(model, el);
    return () => grid.destroy();
  },
};
