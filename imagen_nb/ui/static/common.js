// imagen-nb panels: shared helpers. Concatenated in front of each panel's module by
// imagen_nb/ui/assets.py; a host footer exports `render` for anywidget or Panel.
//
// A panel registers `INB.panels.<name> = (ctx) => ({ navigate(payload), shown(), reconnected(),
// destroy() })` (each optional); `reconnected()` runs whenever the kernel answers again after a
// request timed out (a busy kernel) or failed: the panel asks again for what it could not load.
// ctx = { el, call, on, nav, name }:
//   call(method, args = {}, buffers = [], { timeout = 30000 } = {}) -> Promise<{ result, buffers }>;
//       rejects with an Error whose .info is { type, message, field, column } (the Python error,
//       as a message; type "KernelDisconnected" when no answer came in time)
//   on(event, (data, buffers) => void)  live pushes from the panel's controller
//   nav  null when the panel stands alone; inside the Studio widget: { go(tab, payload) }

/**
 * @typedef {{ type: string, message: string, field: string|null, column: number|null }} ErrorInfo
 * @typedef {{ send(content: object, buffers: ArrayBuffer[]): void,
 *             listen(cb: (content: object, buffers: (ArrayBuffer|DataView)[]) => void): () => void }} Transport
 */

const INB = (() => {
  const panels = {};

  /** Build an element: h("div", { class: "x", onclick: fn, title: "t" }, child, "text", [more]) */
  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
      else if (key in el && typeof value !== "string") el[key] = value;
      else el.setAttribute(key, value === true ? "" : value);
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  /** Replace an element's children. */
  function fill(el, ...children) {
    el.replaceChildren();
    return append(el, children);
  }

  const urls = new WeakMap();
  /** An object URL for a binary buffer (a thumbnail), kept per buffer; revoke with `release`. */
  function blobUrl(buffer, type = "image/webp") {
    if (!buffer) return "";
    const key = buffer.buffer || buffer;
    if (urls.has(key)) return urls.get(key);
    const url = URL.createObjectURL(new Blob([buffer], { type }));
    urls.set(key, url);
    return url;
  }

  function release(url) {
    if (url && url.startsWith("blob:")) URL.revokeObjectURL(url);
  }

  function fmtBytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${n.toFixed(n < 10 && i ? 1 : 0)} ${units[i]}`;
  }

  function fmtSeconds(s) {
    if (s === null || s === undefined) return "";
    if (s < 1) return `${Math.round(s * 1000)} ms`;
    if (s < 60) return `${s.toFixed(1)} s`;
    const m = Math.floor(s / 60);
    return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  /** "3 min ago" for an ISO time or epoch seconds. */
  function fmtAgo(when) {
    if (!when) return "";
    const t = typeof when === "number" ? when * 1000 : Date.parse(when);
    const s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 45) return "just now";
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    if (s < 86400 * 30) return `${Math.round(s / 86400)} d ago`;
    return new Date(t).toLocaleDateString();
  }

  function debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  }

  /** A short message at the bottom of `root`, with an optional action button ("Undo"). */
  function toast(root, message, { action = null, onAction = null, error = false, ms = 5000 } = {}) {
    let host = root.querySelector(":scope > .inb-toasts");
    if (!host) host = root.appendChild(h("div", { class: "inb-toasts", role: "status" }));
    const item = h("div", { class: "inb-toast" + (error ? " inb-toast-error" : "") }, h("span", {}, message));
    if (action) {
      item.append(h("button", { class: "inb-btn inb-btn-link", onclick: () => { item.remove(); onAction && onAction(); } }, action));
    }
    item.append(h("button", { class: "inb-btn inb-btn-icon", title: "Dismiss", "aria-label": "Dismiss", onclick: () => item.remove() }, "×"));
    host.append(item);
    setTimeout(() => item.remove(), ms);
    return item;
  }

  /** Put `text` (code) on the clipboard and say so; where the page may not, show it to copy by hand. */
  async function copyText(root, text, what = "Code") {
    try {
      await navigator.clipboard.writeText(text);
      toast(root, `${what} copied: ${text.length > 80 ? text.slice(0, 77) + "…" : text}`);
    } catch (e) {
      const area = h("textarea", { class: "inb-input inb-mono inb-copy-box", rows: 4, readonly: true, "aria-label": what }, text);
      const item = toast(root, `${what} (the browser did not allow copying: select it and press Ctrl+C)`, { ms: 30000 });
      item.append(area);
      area.select();
    }
  }

  /** Show an error next to the control that caused it (or as a toast when none matches). */
  function showError(root, err, fieldEl = null) {
    const info = (err && err.info) || { message: String(err && err.message || err) };
    if (fieldEl) {
      let slot = fieldEl.querySelector(":scope > .inb-field-error");
      if (!slot) slot = fieldEl.appendChild(h("div", { class: "inb-field-error", role: "alert" }));
      slot.textContent = info.column ? `${info.message} (column ${info.column})` : info.message;
      fieldEl.classList.add("inb-invalid");
      return;
    }
    toast(root, info.message, { error: true, ms: 8000 });
  }

  function clearError(fieldEl) {
    if (!fieldEl) return;
    fieldEl.classList.remove("inb-invalid");
    const slot = fieldEl.querySelector(":scope > .inb-field-error");
    if (slot) slot.remove();
  }

  // ---- transports: the two hosts speak slightly different dialects ----------------------
  /** @returns {Transport} */
  function anywidgetTransport(model) {
    return {
      // Jupyter widgets say so when the comm closes (kernel shut down or restarted).
      onClose: (cb) => {
        const closed = () => cb();
        const live = () => { if (model.comm_live === false) cb(); };
        model.on("comm:close", closed);
        model.on("comm_live_update", live);
        return () => { model.off("comm:close", closed); model.off("comm_live_update", live); };
      },
      send: (content, buffers) => model.send(content, undefined, buffers),
      listen: (cb) => {
        const handler = (content, buffers) => cb(content, buffers || []);
        model.on("msg:custom", handler);
        return () => model.off("msg:custom", handler);
      },
    };
  }

  /** @returns {Transport} */
  function panelTransport(model) {
    return {
      send: (content, buffers) => model.send_msg({ content, buffers }),
      listen: (cb) => {
        const handler = (data) => {
          const msg = data && data.data !== undefined && data.content === undefined ? data.data : data;
          cb(msg.content, msg.buffers || []);
        };
        model.on("msg:custom", handler);
        return () => model.off("msg:custom", handler);
      },
    };
  }

  /** Seconds a request waits for its reply before the kernel counts as gone (lonboard's invoke). */
  const TIMEOUT_MS = 30000;

  /**
   * One connection per host model: routes replies and pushes to the panel they name. Every
   * request has a timeout; when one passes (or the comm closes) every pending request is
   * rejected with a KernelDisconnected error and the state turns "disconnected" until the
   * kernel speaks again.
   */
  function connect(transport) {
    let nextRid = 1;
    const pending = new Map();
    const listeners = new Map();
    const stateListeners = new Set();
    let state = "connected";

    function setState(next, why = "") {
      if (next === state) return;
      state = next;
      for (const cb of stateListeners) { try { cb(state, why); } catch (e) { console.error("imagen-nb:", e); } }
    }

    function disconnect(why) {
      const err = new Error(why);
      err.info = { type: "KernelDisconnected", message: why, field: null, column: null };
      for (const waiter of pending.values()) { clearTimeout(waiter.timer); waiter.reject(err); }
      pending.clear();
      setState("disconnected", why);
    }

    const stop = transport.listen((content, buffers) => {
      if (!content || typeof content !== "object") return;
      setState("connected");
      if (content.reply !== undefined && content.reply !== null) {
        const waiter = pending.get(content.reply);
        if (!waiter) return; // a reply to another view of the same widget, or one that timed out
        pending.delete(content.reply);
        clearTimeout(waiter.timer);
        if (content.ok) waiter.resolve({ result: content.result, buffers });
        else {
          const err = new Error(content.error.message);
          err.info = content.error;
          waiter.reject(err);
        }
        return;
      }
      for (const cb of listeners.get(`${content.panel}:${content.event}`) || []) {
        try { cb(content.data, buffers); } catch (e) { console.error("imagen-nb:", e); }
      }
    });
    const stopClose = transport.onClose ? transport.onClose(() => disconnect(
      "The kernel is gone (restarted or shut down). Run the cell again to reconnect.")) : () => {};
    return {
      /** call(panel, method, args, buffers, { timeout }) -> Promise<{ result, buffers }> */
      call(panel, method, args = {}, buffers = [], { timeout = TIMEOUT_MS } = {}) {
        const rid = nextRid++;
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            if (!pending.has(rid)) return;
            disconnect(`The kernel did not answer in ${Math.round(timeout / 1000)} s: it is busy running a cell, `
              + "restarting or gone. The panel reconnects when it answers; run the cell again if it restarted.");
          }, timeout);
          pending.set(rid, { resolve, reject, timer });
          try {
            transport.send({ panel, rid, method, args }, buffers);
          } catch (e) {
            pending.delete(rid);
            clearTimeout(timer);
            disconnect(`Could not reach the kernel (${e.message}). Run the cell again to reconnect.`);
          }
        });
      },
      on(panel, event, cb) {
        const key = `${panel}:${event}`;
        if (!listeners.has(key)) listeners.set(key, []);
        listeners.get(key).push(cb);
      },
      /** Follow the connection's state: cb("connected" | "disconnected", why). */
      onState(cb) { stateListeners.add(cb); return () => stateListeners.delete(cb); },
      get state() { return state; },
      close() {
        stop();
        stopClose();
        for (const waiter of pending.values()) clearTimeout(waiter.timer);
        pending.clear();
        listeners.clear();
        stateListeners.clear();
      },
    };
  }

  /**
   * Keys pressed inside a panel never reach JupyterLab: Lab's shortcuts skip elements under
   * `data-lm-suppress-shortcuts`, and keydown/keyup stop at the root (Lab listens while they
   * bubble). The root takes focus on a click, so the notebook does not keep it in command mode.
   */
  function isolateKeys(root) {
    root.setAttribute("data-lm-suppress-shortcuts", "true");
    root.setAttribute("tabindex", "-1");
    for (const type of ["keydown", "keyup", "keypress"]) root.addEventListener(type, (e) => e.stopPropagation());
    root.addEventListener("mousedown", () => {
      setTimeout(() => {
        if (root.isConnected && !root.contains(document.activeElement)) root.focus({ preventScroll: true });
      }, 0);
    });
  }

  const THEME_KEY = "imagen-nb-theme";
  /**
   * Outside JupyterLab (the served app) the panels follow the system's light or dark mode
   * (prefers-color-scheme) unless the person chose one with the toggle; the choice is kept in
   * localStorage. Returns the toggle button.
   */
  function followTheme(root) {
    const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
    const chosen = () => { try { return localStorage.getItem(THEME_KEY); } catch (e) { return null; } };
    const button = h("button", { class: "inb-btn inb-btn-icon inb-theme-toggle" });
    function apply() {
      const theme = chosen() || (media && media.matches ? "dark" : "light");
      root.dataset.theme = theme;
      const next = theme === "dark" ? "light" : "dark";
      button.textContent = theme === "dark" ? "☀" : "☾";
      button.title = `Switch to the ${next} theme`;
      button.setAttribute("aria-label", button.title);
    }
    button.addEventListener("click", () => {
      try { localStorage.setItem(THEME_KEY, root.dataset.theme === "dark" ? "light" : "dark"); } catch (e) { /* private mode: this page only */ }
      apply();
      if (!chosen()) root.dataset.theme = root.dataset.theme === "dark" ? "light" : "dark";
    });
    if (media && media.addEventListener) media.addEventListener("change", apply);
    apply();
    return button;
  }

  /**
   * Mount panel `name` (or "studio") into `el`; returns the cleanup function.
   * options.theme "auto": follow the system's dark mode with a toggle (the served app); by
   * default JupyterLab's theme decides.
   */
  function mount(name, transport, el, options = {}) {
    const conn = connect(transport);
    const root = h("div", { class: "inb inb-root" });
    isolateKeys(root);
    const themeToggle = options.theme === "auto" ? followTheme(root) : null;
    const banner = h("div", { class: "inb-disconnected", role: "alert", hidden: true });
    root.append(banner);
    const mounted = [];
    conn.onState((state, why) => {
      banner.hidden = state !== "disconnected";
      banner.textContent = state === "disconnected" ? `Kernel disconnected — ${why}` : "";
      root.classList.toggle("inb-offline", state === "disconnected");
      // A first request that met a busy kernel (a notebook running all its cells) is asked again
      // by every panel once the kernel answers: no panel stays at "could not load".
      if (state !== "connected") return;
      for (const m of mounted) { try { m.reconnected && m.reconnected(); } catch (e) { console.error("imagen-nb:", e); } }
    });
    el.append(root);
    const api = {
      conn,
      themeToggle,
      /** Context for one panel inside `target`. */
      context(panelName, target, nav = null) {
        return {
          name: panelName,
          el: target,
          root,
          nav,
          call: (method, args, buffers, opts) => conn.call(panelName, method, args, buffers, opts),
          on: (event, cb) => conn.on(panelName, event, cb),
        };
      },
      start(panelName, target, nav = null) {
        const handle = panels[panelName](api.context(panelName, target, nav)) || {};
        mounted.push(handle);
        return handle;
      },
    };
    if (name === "studio") panels.studio(api, root);
    else api.start(name, root, null);
    return () => {
      for (const m of mounted) { try { m.destroy && m.destroy(); } catch (e) { console.error(e); } }
      conn.close();
      root.remove();
    };
  }

  return {
    panels, h, append, fill, blobUrl, release, fmtBytes, fmtSeconds, fmtAgo, debounce, toast,
    showError, clearError, copyText, anywidgetTransport, panelTransport, connect, mount, isolateKeys,
  };
})();
