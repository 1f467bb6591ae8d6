// imagen-nb panels: shared helpers. Concatenated in front of each panel's module by
// imagen_nb/ui/assets.py; a host footer exports `render` for anywidget or Panel.
//
// A panel registers `INB.panels.<name> = (ctx) => ({ navigate(payload), destroy() })`, where
// ctx = { el, call, on, nav, name }:
//   call(method, args = {}, buffers = []) -> Promise<{ result, buffers }>; rejects with an
//       Error whose .info is { type, message, field, column } (the Python error, as a message)
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

  /** One connection per host model: routes replies and pushes to the panel they name. */
  function connect(transport) {
    let nextRid = 1;
    const pending = new Map();
    const listeners = new Map();
    const stop = transport.listen((content, buffers) => {
      if (!content || typeof content !== "object") return;
      if (content.reply !== undefined && content.reply !== null) {
        const waiter = pending.get(content.reply);
        if (!waiter) return; // a reply to another view of the same widget
        pending.delete(content.reply);
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
    return {
      call(panel, method, args = {}, buffers = []) {
        const rid = nextRid++;
        return new Promise((resolve, reject) => {
          pending.set(rid, { resolve, reject });
          transport.send({ panel, rid, method, args }, buffers);
        });
      },
      on(panel, event, cb) {
        const key = `${panel}:${event}`;
        if (!listeners.has(key)) listeners.set(key, []);
        listeners.get(key).push(cb);
      },
      close() {
        stop();
        pending.clear();
        listeners.clear();
      },
    };
  }

  /** Mount panel `name` (or "studio") into `el`; returns the cleanup function. */
  function mount(name, transport, el) {
    const conn = connect(transport);
    const root = h("div", { class: "inb inb-root" });
    el.append(root);
    const mounted = [];
    const api = {
      conn,
      /** Context for one panel inside `target`. */
      context(panelName, target, nav = null) {
        return {
          name: panelName,
          el: target,
          root,
          nav,
          call: (method, args, buffers) => conn.call(panelName, method, args, buffers),
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
    showError, clearError, anywidgetTransport, panelTransport, connect, mount,
  };
})();
