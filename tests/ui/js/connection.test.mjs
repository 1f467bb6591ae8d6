// The front end's request layer (common.js), run by node: timeouts, the disconnected state,
// recovery; and the Production store's derived texts. Run by tests/ui/test_js.py.
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);
const common = readFileSync(new URL("../../../imagen_nb/ui/static/common.js", here), "utf8");
const INB = new Function(`${common}; return INB;`)();

function fakeTransport() {
  const sent = [];
  let deliver = null;
  let close = null;
  return {
    sent,
    send: (content) => sent.push(content),
    listen: (cb) => { deliver = cb; return () => { deliver = null; }; },
    onClose: (cb) => { close = cb; return () => { close = null; }; },
    reply: (content) => deliver(content, []),
    closeComm: () => close(),
  };
}

// A reply resolves its request.
{
  const t = fakeTransport();
  const conn = INB.connect(t);
  const p = conn.call("gallery", "page", { offset: 0 });
  t.reply({ panel: "gallery", reply: t.sent[0].rid, ok: true, result: 7 });
  assert.equal((await p).result, 7);
  assert.equal(conn.state, "connected");
}

// No answer in time: every pending request is rejected as KernelDisconnected and the state says so.
{
  const t = fakeTransport();
  const conn = INB.connect(t);
  const states = [];
  conn.onState((s, why) => states.push([s, why]));
  const slow = conn.call("production", "init", {}, [], { timeout: 30 });
  const other = conn.call("production", "orders", {}, [], { timeout: 10_000 });
  await assert.rejects(slow, (err) => err.info.type === "KernelDisconnected" && /did not answer/.test(err.message));
  await assert.rejects(other, (err) => err.info.type === "KernelDisconnected");
  assert.equal(conn.state, "disconnected");
  assert.match(states[0][1], /run the cell again/);
  // The kernel speaks again: connected, and new requests work.
  t.reply({ panel: "production", event: "activity", data: { active: 0 } });
  assert.equal(conn.state, "connected");
  const again = conn.call("production", "init");
  t.reply({ panel: "production", reply: t.sent.at(-1).rid, ok: true, result: "ok" });
  assert.equal((await again).result, "ok");
  conn.close();
}

// The comm closes (kernel shut down or restarted): rejected at once.
{
  const t = fakeTransport();
  const conn = INB.connect(t);
  const p = conn.call("order", "preview", {});
  t.closeComm();
  await assert.rejects(p, (err) => err.info.type === "KernelDisconnected" && /gone/.test(err.message));
  assert.equal(conn.state, "disconnected");
}

// A mounted panel hears `reconnected()` each time the kernel answers after a timeout (a busy
// kernel): that is when the panels ask again for what they could not load. (A DOM just big enough
// for mount: node has none.)
{
  const element = () => ({ hidden: false, className: "", textContent: "", dataset: {}, style: {}, attrs: {},
    classList: { toggle() {} }, setAttribute(k, v) { this.attrs[k] = v; }, addEventListener() {},
    append() {}, remove() {} });
  globalThis.document = { createElement: element };
  const t = fakeTransport();
  const heard = [];
  let ctx = null;
  INB.panels.probe = (c) => { ctx = c; return { reconnected: () => heard.push("reconnected") }; };
  const unmount = INB.mount("probe", t, element());
  const init = ctx.call("init", {}, [], { timeout: 20 });
  await assert.rejects(init, (err) => err.info.type === "KernelDisconnected");
  assert.deepEqual(heard, []);
  t.reply({ panel: "probe", reply: t.sent[0].rid, ok: true, result: "late" });  // the busy kernel's late answer
  assert.deepEqual(heard, ["reconnected"]);
  t.reply({ panel: "probe", event: "tick", data: {} });   // already connected: no second retry
  assert.deepEqual(heard, ["reconnected"]);
  unmount();
  delete INB.panels.probe;
  delete globalThis.document;
}

// Production: counts add up for cancelled and failed orders; the over-all line never says 300 / 300.
{
  const state = await import(new URL("../../../imagen_nb/ui/static/production/state.js", here));
  const cancelled = { status: "cancelled", total: 300, progress: 1, started: 1, finished: 6,
    counts: { queued: 0, running: 0, complete: 120, failed: 0, cancelled: 180 } };
  assert.deepEqual(state.orderCounts(cancelled).map((p) => p.text), ["120 / 300 done", "180 cancelled"]);
  assert.equal(state.retryLabel(cancelled).label, "Retry 180 cancelled");
  const live = { status: "underway", total: 10, progress: 0.4, started: 100, finished: null,
    counts: { queued: 4, running: 2, complete: 3, failed: 1, cancelled: 0 } };
  assert.equal(state.orderTiming(live, 120), "about 30.0 s left");   // 20 s for 4 done, 6 left
  assert.equal(state.genError({ status: "failed", error_type: null, error_message: null }), "failed (no message recorded)");
}
console.log("js tests passed");
