// The Production panel: recent orders and their generations, live. Order rows are keyed by
// id and patched in place; only the expanded order renders its generations (100 at a time,
// "show more"); thumbnails load lazily when a row scrolls into view. Updates arrive batched
// (at most ten a second) and carry only what changed.

/**
 * Messages (mirrors imagen_nb/ui/production.py; times are seconds since the epoch):
 * @typedef {{ queued: number, running: number, complete: number, failed: number, cancelled: number }} Counts
 * @typedef {{ id: string, model: string, project_id: string|null, project: string|null,
 *             status: "pending"|"processing"|"underway"|"fulfilled"|"cancelled"|"failed",
 *             prompt: string|null, total: number, counts: Counts, progress: number,
 *             created: number|null, started: number|null, finished: number|null }} Order
 * @typedef {{ id: string, seq?: number, status?: "queued"|"running"|"complete"|"failed"|"cancelled",
 *             label?: string, started?: number|null, finished?: number|null, duration?: number|null,
 *             attempts?: number, error_type?: string|null, error_message?: string|null,
 *             product_id?: string|null, products?: number, step?: number|null, total?: number|null,
 *             position?: number|null }} Gen   (a push may carry only some fields)
 * @typedef {Gen & { order_id: string, model: string|null, params: object, actual_params: object|null,
 *             return_params: object|null, traceback: string|null, thumb: number|null, thumb_type: string|null }} GenDetail
 * Requests: init() -> {orders, has_more, active, now, cluster: {workers, gpus, dashboard}|null}; orders({limit, before, ids}) -> {orders, has_more, now};
 *   generations({order_id, offset, limit, status}) -> {order_id, offset, items: Gen[], has_more, now};
 *   unwatch({order_id}); generation({generation_id}) -> GenDetail (+ thumbnail buffer);
 *   thumbs({product_ids}) -> {items: {id: {buf, type}}}; cancel({order_id} | {generation_id}) -> {dropped};
 *   retry({order_id, generation_ids?}) -> {retried, order: Order}
 * Pushes: "update" {now, orders?: Order[], gens?: Gen[], positions?: {id: number|null}};
 *   "activity" {active} (also the Studio tab's badge)
 */

INB.panels.production = (ctx) => {
  const { h, fill, fmtAgo, fmtSeconds, showError, toast } = INB;
  const nav = ctx.nav;
  const GEN_PAGE = 100;
  const LIVE = new Set(["pending", "processing", "underway"]);
  const ORDER_LOOK = { pending: "queued", processing: "queued", underway: "running", fulfilled: "complete",
    failed: "failed", cancelled: "cancelled" };
  const ORDER_WORD = { pending: "pending", processing: "queued", underway: "running", fulfilled: "fulfilled",
    failed: "failed", cancelled: "cancelled" };
  const FILTERS = [["", "All"], ["running", "Running"], ["queued", "Queued"], ["complete", "Complete"],
    ["failed", "Failed"], ["cancelled", "Cancelled"]];

  /** @type {Map<string, {data: Order, el: HTMLElement, parts: Object<string, HTMLElement>}>} */
  const orders = new Map();
  /** @type {Map<string, {data: Gen, el: HTMLElement, parts: Object<string, HTMLElement>}>} */
  const gens = new Map();
  const thumbUrls = new Map();
  let skew = 0; // kernel clock minus ours, seconds
  let hasMore = false;
  let loaded = false;
  let expanded = null; // {id, status, offset, hasMore, box, list, more, chips}
  let modal = null;

  const serverNow = () => Date.now() / 1000 + skew;
  const setClock = (now) => { if (now) skew = now - Date.now() / 1000; };

  // ---- layout ---------------------------------------------------------------------------
  const summary = h("span", { class: "inb-production-summary inb-muted" });
  const cluster = h("span", { class: "inb-production-cluster inb-muted", hidden: true });
  const head = h("div", { class: "inb-panel-head" },
    h("div", { class: "inb-panel-title" }, "Production"), summary, cluster);
  const list = h("div", { class: "inb-production-list", role: "list" });
  const moreBtn = h("button", { class: "inb-btn inb-production-more", hidden: true, onclick: () => loadMore() }, "Load older orders");
  const empty = h("div", { class: "inb-empty", hidden: true });
  const body = h("div", { class: "inb-panel-body inb-production-body" }, list, moreBtn, empty);
  const root = h("div", { class: "inb-panel inb-production" }, head, body);
  ctx.el.append(root);

  function setActivity(active) {
    fill(summary, active
      ? [h("span", { class: "inb-production-pulse", "aria-hidden": "true" }), `${active.toLocaleString()} active ${active === 1 ? "generation" : "generations"}`]
      : "Idle — every order is done");
  }

  /** The Dask cluster serving the studio, when one does: workers, GPUs, the dashboard link. */
  function setCluster(info) {
    cluster.hidden = !info;
    if (!info) return;
    const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
    fill(cluster, `Dask: ${plural(info.workers, "worker")}, ${plural(info.gpus, "GPU")}`,
      info.dashboard ? [" · ", h("a", { href: info.dashboard, target: "_blank", rel: "noopener" }, "dashboard")] : null);
  }

  function showEmpty() {
    const none = !orders.size;
    empty.hidden = !none;
    if (!none) return;
    fill(empty, h("strong", {}, "No orders yet"),
      h("div", {}, "Orders you place show up here with their generations, live."),
      nav ? h("div", { style: { marginTop: "12px" } },
        h("button", { class: "inb-btn inb-btn-primary", onclick: () => nav.go("order", {}) }, "Place an order"))
        : h("div", { class: "inb-mono", style: { marginTop: "10px" } }, 'studio.order("instant:swatch", prompt="a [red,blue] kite")'));
  }

  // ---- order rows -----------------------------------------------------------------------
  function orderEl(o) {
    const parts = {};
    parts.chev = h("span", { class: "inb-production-chev", "aria-hidden": "true" }, "▸");
    parts.state = h("span", { class: "inb-production-state" });
    parts.prompt = h("div", { class: "inb-production-prompt" });
    parts.sub = h("div", { class: "inb-production-sub" });
    parts.stack = h("div", { class: "inb-production-stack", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": "100" },
      parts.segComplete = h("span", { class: "inb-production-seg-complete" }),
      parts.segFailed = h("span", { class: "inb-production-seg-failed" }),
      parts.segCancelled = h("span", { class: "inb-production-seg-cancelled" }),
      parts.segRunning = h("span", { class: "inb-production-seg-running" }));
    parts.counts = h("div", { class: "inb-production-counts" });
    parts.actions = h("div", { class: "inb-production-actions" });
    parts.row = h("div", { class: "inb-production-orow", tabindex: "0", role: "button", "aria-expanded": "false",
      onclick: (e) => { if (!e.target.closest("button")) toggle(o.id); },
      onkeydown: (e) => {
        if ((e.key === "Enter" || e.key === " ") && e.target === parts.row) { e.preventDefault(); toggle(o.id); }
        if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); moveFocus(parts.row, e.key === "ArrowDown" ? 1 : -1); }
      },
    }, parts.chev, parts.state,
    h("div", { class: "inb-production-what" }, parts.prompt, parts.sub),
    h("div", { class: "inb-production-progress" }, parts.stack, parts.counts),
    parts.actions);
    const el = h("div", { class: "inb-production-order", role: "listitem", dataset: { id: o.id } }, parts.row);
    return { el, parts };
  }

  function moveFocus(row, step) {
    const rows = [...list.querySelectorAll(".inb-production-orow")];
    const next = rows[rows.indexOf(row) + step];
    if (next) next.focus();
  }

  function pct(n, total) { return total ? `${(100 * n / total).toFixed(3)}%` : "0%"; }

  function patchOrder(entry) {
    const o = entry.data;
    const p = entry.parts;
    const c = o.counts;
    const look = ORDER_LOOK[o.status] || "queued";
    p.state.className = `inb-production-state inb-status inb-status-${look}`;
    p.state.textContent = ORDER_WORD[o.status] || o.status;
    const prompt = typeof o.prompt === "string" ? o.prompt : (o.prompt ? JSON.stringify(o.prompt) : "");
    if (p.prompt.textContent !== (prompt || "(no prompt)")) {
      p.prompt.textContent = prompt || "(no prompt)";
      p.prompt.title = prompt;
      p.prompt.classList.toggle("inb-faint", !prompt);
    }
    fill(p.sub,
      h("span", { class: "inb-production-model" }, o.model),
      o.project ? h("span", { class: "inb-chip" }, o.project) : null,
      h("span", { class: "inb-production-ago", dataset: { t: String(o.created || "") } }, fmtAgo(o.created)),
      h("span", { class: "inb-production-gcount" }, `${o.total.toLocaleString()} ${o.total === 1 ? "generation" : "generations"}`));
    const partialRunning = Math.max(0, o.progress * o.total - c.complete - c.failed - c.cancelled);
    p.segComplete.style.width = pct(c.complete, o.total);
    p.segFailed.style.width = pct(c.failed, o.total);
    p.segCancelled.style.width = pct(c.cancelled, o.total);
    p.segRunning.style.width = pct(partialRunning, o.total);
    p.stack.setAttribute("aria-valuenow", String(Math.round(100 * o.progress)));
    p.stack.setAttribute("aria-label", `${c.complete} of ${o.total} complete`);
    const done = c.complete + c.failed + c.cancelled;
    const bits = [h("span", { class: "inb-production-frac" }, `${done.toLocaleString()} / ${o.total.toLocaleString()}`)];
    if (c.running) bits.push(h("span", { class: "inb-status-running" }, `${c.running.toLocaleString()} running`));
    if (c.queued && LIVE.has(o.status)) bits.push(h("span", { class: "inb-status-queued" }, `${c.queued.toLocaleString()} queued`));
    if (c.failed) bits.push(h("span", { class: "inb-status-failed" }, `${c.failed.toLocaleString()} failed`));
    if (c.cancelled) bits.push(h("span", { class: "inb-status-cancelled" }, `${c.cancelled.toLocaleString()} cancelled`));
    if (!LIVE.has(o.status) && o.finished && o.started) bits.push(h("span", { class: "inb-faint" }, fmtSeconds(o.finished - o.started)));
    fill(p.counts, bits);
    // actions: only what makes sense now
    const retryable = c.failed + c.cancelled;
    const live = LIVE.has(o.status);
    entry.el.classList.toggle("inb-production-live", live);
    if (expanded && expanded.id === o.id) patchChips();
    // rebuilt only when they change, so a focused button survives the stream of updates
    const key = [live, c.failed, c.cancelled, c.complete > 0].join("|");
    if (entry.actionsKey === key) return;
    entry.actionsKey = key;
    fill(p.actions,
      retryable ? h("button", {
        class: "inb-btn inb-btn-sm", title: `Run the ${[c.failed ? `${c.failed} failed` : "", c.cancelled ? `${c.cancelled} cancelled` : ""].filter(Boolean).join(" and ")} generations again`,
        onclick: () => retry(o.id),
      }, c.failed && !c.cancelled ? `Retry ${c.failed} failed` : !c.failed ? `Retry ${c.cancelled} cancelled` : `Retry ${retryable}`) : null,
      live ? h("button", { class: "inb-btn inb-btn-sm inb-btn-danger", title: "Cancel the queued generations now and the running ones at their next step",
        onclick: () => cancel({ order_id: o.id }, "Order") }, "Cancel") : null,
      nav && c.complete ? h("button", { class: "inb-btn inb-btn-sm", title: "Show this order's products in the Gallery",
        onclick: () => nav.go("gallery", { order_id: o.id }) }, "Gallery →") : null);
  }

  function upsertOrder(o, { top = false } = {}) {
    let entry = orders.get(o.id);
    if (entry) {
      entry.data = o;
      patchOrder(entry);
      return entry;
    }
    entry = { data: o, ...orderEl(o) };
    orders.set(o.id, entry);
    patchOrder(entry);
    // keep newest first: ids are time-ordered
    let before = null;
    if (!top) {
      for (const other of list.children) {
        if (other.dataset.id < o.id) { before = other; break; }
      }
    } else before = list.firstElementChild;
    list.insertBefore(entry.el, before);
    showEmpty();
    return entry;
  }

  // ---- expanded order: its generations ---------------------------------------------------
  async function toggle(id, { scroll = false } = {}) {
    if (expanded && expanded.id === id) return collapse();
    if (expanded) collapse();
    const entry = orders.get(id);
    if (!entry) return;
    const chips = h("div", { class: "inb-production-filters", role: "tablist", "aria-label": "Show generations" });
    const glist = h("div", { class: "inb-production-glist", role: "list" });
    const more = h("button", { class: "inb-btn inb-btn-sm inb-production-gmore", hidden: true, onclick: () => loadGens(false) });
    const box = h("div", { class: "inb-production-gens" },
      h("div", { class: "inb-production-gtools" }, chips), glist, more);
    expanded = { id, status: "", offset: 0, hasMore: false, box, list: glist, more, chips, loading: false };
    entry.el.classList.add("inb-production-expanded");
    entry.parts.row.setAttribute("aria-expanded", "true");
    entry.el.append(box);
    patchChips();
    glist.append(h("div", { class: "inb-production-gloading inb-faint" }, "Loading generations…"));
    await loadGens(true);
    if (scroll) entry.el.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  function collapse() {
    if (!expanded) return;
    const entry = orders.get(expanded.id);
    if (entry) {
      entry.el.classList.remove("inb-production-expanded");
      entry.parts.row.setAttribute("aria-expanded", "false");
    }
    expanded.box.remove();
    ctx.call("unwatch", { order_id: expanded.id }).catch(() => {});
    gens.clear();
    observer.disconnect();
    expanded = null;
  }

  function patchChips() {
    const o = orders.get(expanded.id).data;
    const n = { "": o.total, ...o.counts };
    const shown = FILTERS.filter(([key]) => key === "" || n[key] || expanded.status === key);
    const keys = shown.map(([key]) => key).join("|") + "/" + expanded.status;
    if (expanded.chipKeys === keys) { // same chips: only the numbers move
      for (const el of expanded.chips.querySelectorAll("[data-key]")) el.lastChild.textContent = n[el.dataset.key].toLocaleString();
      return;
    }
    expanded.chipKeys = keys;
    fill(expanded.chips, shown.map(([key, label]) =>
      h("button", { class: "inb-production-filter" + (expanded.status === key ? " inb-production-filter-on" : ""), role: "tab",
        "aria-selected": String(expanded.status === key), dataset: { key },
        onclick: () => { if (expanded.status !== key) { expanded.status = key; patchChips(); loadGens(true); } } },
      label, h("span", { class: "inb-production-filter-n" }, n[key].toLocaleString()))));
  }

  async function loadGens(fresh) {
    const ex = expanded;
    if (!ex || ex.loading) return;
    ex.loading = true;
    const offset = fresh ? 0 : ex.offset;
    try {
      const { result } = await ctx.call("generations", { order_id: ex.id, offset, limit: GEN_PAGE, status: ex.status || null });
      if (expanded !== ex) return;
      setClock(result.now);
      if (fresh) { gens.clear(); observer.disconnect(); ex.list.replaceChildren(); }
      for (const g of result.items) {
        const entry = { data: g, ...genEl(g) };
        gens.set(g.id, entry);
        patchGen(entry);
        ex.list.append(entry.el);
        if (g.product_id) observer.observe(entry.el);
      }
      ex.offset = offset + result.items.length;
      ex.hasMore = result.has_more;
      if (!ex.list.childElementCount) {
        ex.list.append(h("div", { class: "inb-production-gloading inb-faint" },
          ex.status ? `No ${ex.status} generations.` : "This order has no generations."));
      }
      const o = orders.get(ex.id).data;
      const total = ex.status ? (o.counts[ex.status] || 0) : o.total;
      ex.more.hidden = !ex.hasMore;
      ex.more.textContent = `Show ${Math.min(GEN_PAGE, Math.max(0, total - ex.offset)) || GEN_PAGE} more · ${ex.offset.toLocaleString()} of ${total.toLocaleString()} shown`;
    } catch (err) {
      showError(ctx.root, err);
    } finally {
      ex.loading = false;
    }
  }

  function genEl(g) {
    const parts = {};
    parts.seq = h("span", { class: "inb-production-seq" }, `#${g.seq + 1}`);
    parts.thumb = h("div", { class: "inb-production-gthumb inb-thumb" });
    parts.label = h("div", { class: "inb-production-glabel" });
    parts.error = h("div", { class: "inb-production-gerror", hidden: true });
    parts.state = h("div", { class: "inb-production-gstate" });
    parts.time = h("div", { class: "inb-production-gtime" });
    parts.actions = h("div", { class: "inb-production-gactions" });
    const el = h("div", { class: "inb-production-gen", role: "listitem", tabindex: "0", dataset: { id: g.id },
      title: "Details",
      onclick: (e) => { if (!e.target.closest("button")) openDetails(g.id); },
      onkeydown: (e) => { if (e.key === "Enter" && e.target === el) { e.preventDefault(); openDetails(g.id); } },
    }, parts.seq, parts.thumb, h("div", { class: "inb-production-gmain" }, parts.label, parts.error), parts.state, parts.time, parts.actions);
    return { el, parts };
  }

  function genTime(g) {
    if (g.status === "running" && g.started) return fmtClock(serverNow() - g.started);
    if (g.duration !== null && g.duration !== undefined) return fmtSeconds(g.duration);
    return "";
  }

  /** Live elapsed time, whole seconds: "7 s", "2:05", "1:02:05". */
  function fmtClock(s) {
    s = Math.max(0, Math.floor(s));
    if (s < 60) return `${s} s`;
    const m = Math.floor(s / 60);
    const mm = m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}` : String(m);
    return `${mm}:${String(s % 60).padStart(2, "0")}`;
  }

  function patchGen(entry) {
    const g = entry.data;
    const p = entry.parts;
    const changed = entry.shown !== g.status; // rebuild controls only when the status moves
    entry.shown = g.status;
    entry.el.dataset.status = g.status;
    const label = g.label || "";
    if (p.label.textContent !== (label || "—")) { p.label.textContent = label || "—"; p.label.title = label; }
    // state column: progress bar while running, queue position while queued, the status otherwise
    if (g.status === "running") {
      if (changed || !p.bar) {
        p.bar = h("span", {});
        p.barBox = h("div", { class: "inb-progress inb-production-gbar" }, p.bar);
        p.step = h("span", { class: "inb-production-step" });
        fill(p.state, p.barBox, p.step);
      }
      p.barBox.classList.toggle("inb-production-indeterminate", !g.total);
      p.bar.style.width = g.total ? `${(100 * g.step / g.total).toFixed(1)}%` : "30%";
      p.step.textContent = g.total ? `step ${g.step}/${g.total}` : "starting";
    } else {
      p.bar = null;
      if (g.status === "queued") {
        fill(p.state, h("span", { class: "inb-status inb-status-queued" }, "queued"),
          g.position !== null && g.position !== undefined
            ? h("span", { class: "inb-production-pos", title: "Place in the queue of this model's workers" },
              g.position === 0 ? "next" : `#${(g.position + 1).toLocaleString()} in line`) : null);
      } else if (changed) {
        fill(p.state, h("span", { class: `inb-status inb-status-${g.status}` }, g.status),
          g.attempts > 1 ? h("span", { class: "inb-faint" }, `attempt ${g.attempts}`) : null);
      }
    }
    p.time.textContent = genTime(g);
    if (g.status === "failed" && (g.error_message || g.error_type)) {
      p.error.hidden = false;
      p.error.textContent = `${g.error_type || "Error"}: ${g.error_message || ""}`;
      p.error.title = p.error.textContent;
    } else p.error.hidden = true;
    // thumbnail, or a status glyph
    if (g.product_id) {
      const url = thumbUrls.get(g.product_id);
      if (url) {
        if (!p.thumb.querySelector("img")) {
          p.thumb.className = "inb-production-gthumb inb-thumb";
          fill(p.thumb, h("img", { src: url, alt: "", draggable: false }));
        }
      } else {
        if (changed) { p.thumb.className = "inb-production-gthumb inb-thumb"; fill(p.thumb); }
        observer.observe(entry.el);
      }
    } else if (changed) {
      const glyph = { queued: "○", running: "◐", failed: "✕", cancelled: "–", complete: "✓" }[g.status] || "";
      p.thumb.className = `inb-production-gthumb inb-thumb inb-production-glyph inb-status-${g.status}`;
      fill(p.thumb, glyph);
    }
    if (!changed) return;
    fill(p.actions,
      g.status === "queued" || g.status === "running"
        ? h("button", { class: "inb-btn inb-btn-sm inb-btn-danger", title: "Cancel this generation",
          onclick: () => cancel({ generation_id: g.id }, "Generation") }, "Cancel") : null,
      g.status === "failed" || g.status === "cancelled"
        ? h("button", { class: "inb-btn inb-btn-sm", title: "Run this generation again with its parameters",
          onclick: () => retry(expanded.id, [g.id]) }, "Retry") : null);
  }

  // ---- lazy thumbnails ------------------------------------------------------------------
  let wanted = new Set();
  const fetchThumbs = INB.debounce(async () => {
    const ids = [...wanted].filter((id) => !thumbUrls.has(id)).slice(0, 100);
    wanted = new Set();
    if (!ids.length) return;
    try {
      const { result, buffers } = await ctx.call("thumbs", { product_ids: ids });
      for (const [id, t] of Object.entries(result.items)) thumbUrls.set(id, INB.blobUrl(buffers[t.buf], t.type));
      for (const entry of gens.values()) if (ids.includes(entry.data.product_id)) patchGen(entry);
    } catch (err) { /* thumbnails are decoration: the rows stay usable */ }
  }, 60);
  const observer = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((items) => {
      for (const item of items) {
        if (!item.isIntersecting) continue;
        const entry = gens.get(item.target.dataset.id);
        observer.unobserve(item.target);
        if (entry && entry.data.product_id && !thumbUrls.has(entry.data.product_id)) {
          wanted.add(entry.data.product_id);
          fetchThumbs();
        }
      }
    }, { root: body, rootMargin: "200px" })
    : { observe(el) { const e = gens.get(el.dataset.id); if (e && e.data.product_id) { wanted.add(e.data.product_id); fetchThumbs(); } },
      unobserve() {}, disconnect() {} };

  // ---- actions --------------------------------------------------------------------------
  async function cancel(target, what) {
    try {
      const { result } = await ctx.call("cancel", target);
      const running = what === "Order" ? " — running ones stop at their next step" : "";
      toast(ctx.root, result.dropped
        ? (what === "Order" ? `Order cancelled: ${result.dropped.toLocaleString()} queued ${result.dropped === 1 ? "generation" : "generations"} dropped${running}`
          : "Generation cancelled")
        : `Cancelling: ${what === "Order" ? "its running generations stop" : "it stops"} at the next step`);
    } catch (err) {
      showError(ctx.root, err);
    }
  }

  async function retry(orderId, generationIds = null) {
    try {
      const { result } = await ctx.call("retry", { order_id: orderId, generation_ids: generationIds });
      if (result.order) upsertOrder(result.order);
      toast(ctx.root, `${result.retried.toLocaleString()} ${result.retried === 1 ? "generation" : "generations"} queued again`);
    } catch (err) {
      showError(ctx.root, err);
    }
  }

  // ---- details --------------------------------------------------------------------------
  function kv(obj) {
    if (!obj || typeof obj !== "object" || !Object.keys(obj).length) return h("div", { class: "inb-faint" }, "—");
    return h("table", { class: "inb-kv" }, h("tbody", {}, Object.entries(obj).map(([k, v]) =>
      h("tr", {}, h("th", {}, k), h("td", {}, typeof v === "string" ? v : JSON.stringify(v))))));
  }

  function closeModal() {
    if (!modal) return;
    const back = modal.back;
    modal.el.remove();
    modal = null;
    if (back && back.isConnected) back.focus();
  }

  async function openDetails(id) {
    closeModal();
    const back = document.activeElement;
    let d;
    let buffers;
    try {
      ({ result: d, buffers } = await ctx.call("generation", { generation_id: id }));
    } catch (err) {
      showError(ctx.root, err);
      return;
    }
    const closeBtn = h("button", { class: "inb-btn inb-btn-icon", title: "Close", "aria-label": "Close", onclick: closeModal }, "×");
    const thumb = d.thumb !== null ? INB.blobUrl(buffers[d.thumb], d.thumb_type || "image/webp") : "";
    const time = [];
    if (d.started) time.push(["started", new Date(d.started * 1000).toLocaleString()]);
    if (d.finished) time.push(["finished", new Date(d.finished * 1000).toLocaleString()]);
    if (d.duration !== null && d.duration !== undefined) time.push(["took", fmtSeconds(d.duration)]);
    time.push(["attempts", String(d.attempts)]);
    if (d.status === "queued" && d.position !== null && d.position !== undefined) time.push(["queue", `#${d.position + 1} in line`]);
    const error = d.status === "failed" ? h("div", { class: "inb-production-derror" },
      h("div", { class: "inb-production-derror-head" }, d.error_type || "Error"),
      h("div", { class: "inb-production-derror-msg" }, d.error_message || ""),
      d.traceback ? h("details", {}, h("summary", {}, "Traceback"), h("pre", { class: "inb-mono" }, d.traceback)) : null) : null;
    const actions = h("div", { class: "inb-production-dactions" },
      d.status === "failed" || d.status === "cancelled" ? h("button", { class: "inb-btn inb-btn-primary",
        onclick: () => { closeModal(); retry(d.order_id, [d.id]); } }, "Retry") : null,
      d.status === "queued" || d.status === "running" ? h("button", { class: "inb-btn inb-btn-danger",
        onclick: () => { closeModal(); cancel({ generation_id: d.id }, "Generation"); } }, "Cancel") : null,
      nav && d.product_id ? h("button", { class: "inb-btn", onclick: () => { closeModal(); nav.go("gallery", { order_id: d.order_id }); } },
        "Open the order in the Gallery →") : null);
    const dialog = h("div", { class: "inb-modal inb-production-detail", role: "dialog", "aria-modal": "true",
      "aria-label": `Generation ${d.seq + 1}` },
    h("div", { class: "inb-modal-head" },
      h("strong", {}, `Generation #${d.seq + 1}`),
      h("span", { class: `inb-status inb-status-${d.status}` }, d.status),
      h("span", { class: "inb-faint inb-mono" }, d.model || ""),
      h("span", { style: { marginLeft: "auto" } }), closeBtn),
    h("div", { class: "inb-modal-body" },
      error,
      h("div", { class: "inb-production-dgrid" },
        thumb ? h("div", { class: "inb-production-dthumb inb-thumb" }, h("img", { src: thumb, alt: "product" })) : null,
        h("div", {},
          h("div", { class: "inb-production-dsec" }, "Generation parameters"), kv(d.params),
          d.actual_params ? [h("div", { class: "inb-production-dsec" }, "Sent to the model"), kv(d.actual_params)] : null,
          d.return_params ? [h("div", { class: "inb-production-dsec" }, "Reported by the model"), kv(d.return_params)] : null,
          h("div", { class: "inb-production-dsec" }, "Timing"), kv(Object.fromEntries(time)))),
      actions.childElementCount ? actions : null));
    const el = h("div", { class: "inb-modal-backdrop", onclick: (e) => { if (e.target === el) closeModal(); } }, dialog);
    el.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.preventDefault(); closeModal(); } });
    ctx.root.append(el);
    modal = { el, back };
    closeBtn.focus();
  }

  // ---- live updates ---------------------------------------------------------------------
  ctx.on("update", (data) => {
    if (!loaded) return; // the init reply is newer than anything before it
    setClock(data.now);
    const newest = list.firstElementChild ? list.firstElementChild.dataset.id : "";
    for (const o of data.orders || []) {
      if (orders.has(o.id)) upsertOrder(o);
      else if (o.id > newest || !hasMore) upsertOrder(o, { top: o.id > newest });
    }
    for (const g of data.gens || []) {
      const entry = gens.get(g.id);
      if (!entry) continue;
      Object.assign(entry.data, g);
      patchGen(entry);
    }
    for (const [id, pos] of Object.entries(data.positions || {})) {
      const entry = gens.get(id);
      if (!entry) continue;
      entry.data.position = pos;
      if (entry.data.status === "queued") patchGen(entry);
    }
  });
  ctx.on("activity", (data) => setActivity(data && data.active));

  // Elapsed time of running generations ticks every second; "3 min ago" every 20 s.
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
    for (const entry of gens.values()) {
      if (entry.data.status === "running") entry.parts.time.textContent = genTime(entry.data);
    }
    if (ticks % 20 === 0) {
      for (const el of list.querySelectorAll(".inb-production-ago")) el.textContent = fmtAgo(Number(el.dataset.t) || null);
    }
  }, 1000);

  // ---- loading --------------------------------------------------------------------------
  function applyPage(result, { replace = false } = {}) {
    setClock(result.now);
    if (replace) hasMore = result.has_more;
    for (const o of result.orders) upsertOrder(o);
    moreBtn.hidden = !hasMore;
    showEmpty();
  }

  async function loadMore() {
    const last = list.lastElementChild;
    moreBtn.disabled = true;
    try {
      const { result } = await ctx.call("orders", { limit: 50, before: last ? last.dataset.id : null });
      hasMore = result.has_more;
      applyPage(result);
    } catch (err) {
      showError(ctx.root, err);
    } finally {
      moreBtn.disabled = false;
    }
  }

  async function refresh() {
    try {
      const { result } = await ctx.call("orders", { limit: Math.max(50, Math.min(500, orders.size)) });
      for (const o of result.orders) upsertOrder(o);
      setClock(result.now);
      showEmpty();
    } catch (err) { /* the live updates keep the rows right meanwhile */ }
  }

  async function reveal(orderId) {
    if (!orders.has(orderId)) {
      try {
        const { result } = await ctx.call("orders", { ids: [orderId] });
        for (const o of result.orders) upsertOrder(o);
      } catch (err) {
        showError(ctx.root, err);
        return;
      }
    }
    if (!expanded || expanded.id !== orderId) await toggle(orderId, { scroll: true });
    else orders.get(orderId).el.scrollIntoView({ block: "start", behavior: "smooth" });
    const entry = orders.get(orderId);
    if (entry) {
      entry.parts.row.focus({ preventScroll: true });
      entry.el.classList.add("inb-production-flash");
      setTimeout(() => entry.el.classList.remove("inb-production-flash"), 1400);
    }
  }

  let pendingReveal = null;
  const ready = ctx.call("init").then(({ result }) => {
    setActivity(result.active);
    setCluster(result.cluster);
    hasMore = result.has_more;
    loaded = true;
    applyPage(result, { replace: true });
  }).catch((err) => {
    fill(empty, h("strong", {}, "Could not load the orders"), err.message);
    empty.hidden = false;
  });

  return {
    navigate(payload) {
      if (payload && payload.order_id) {
        pendingReveal = payload.order_id;
        ready.then(() => { if (pendingReveal) { const id = pendingReveal; pendingReveal = null; reveal(id); } });
      }
    },
    shown() { if (loaded) refresh(); },
    destroy() {
      clearInterval(timer);
      observer.disconnect();
      closeModal();
      if (expanded) ctx.call("unwatch", { order_id: expanded.id }).catch(() => {});
      for (const url of thumbUrls.values()) INB.release(url);
    },
  };
};
