// The Studio widget: the four panels as tabs, with navigation between them
// (a project card opens Order or Gallery, a gallery product re-orders in Order, …).

INB.panels.studio = (api, root) => {
  const { h } = INB;
  const labels = { projects: "Projects", order: "Order", production: "Production", gallery: "Gallery" };
  const tabs = {};
  const bodies = {};
  const handles = {};
  const badge = h("span", { class: "inb-tab-badge", hidden: true });
  const bar = h("div", { class: "inb-tabbar", role: "tablist" },
    h("div", { class: "inb-brand" }, h("span", { class: "inb-brand-mark" }, "◆"), "imagen-nb"));
  const stack = h("div", { class: "inb-tabstack" });
  root.classList.add("inb-studio");
  root.append(bar, stack);

  const nav = {
    go(tab, payload = {}) {
      select(tab);
      const handle = handles[tab];
      if (handle && handle.navigate) handle.navigate(payload || {});
    },
  };

  function select(tab) {
    for (const name of Object.keys(labels)) {
      const active = name === tab;
      tabs[name].classList.toggle("inb-tab-active", active);
      tabs[name].setAttribute("aria-selected", String(active));
      bodies[name].hidden = !active;
    }
    const handle = handles[tab];
    if (handle && handle.shown) handle.shown();
  }

  for (const name of Object.keys(labels)) {
    tabs[name] = h("button", {
      class: "inb-tab", role: "tab", dataset: { tab: name }, onclick: () => select(name),
    }, labels[name], name === "production" ? badge : null);
    bar.append(tabs[name]);
    bodies[name] = h("div", { class: "inb-tabbody", role: "tabpanel", dataset: { panel: name }, hidden: true });
    stack.append(bodies[name]);
  }
  const homeLabel = h("div", { class: "inb-home", title: "" });
  bar.append(homeLabel);
  if (api.themeToggle) bar.append(api.themeToggle);

  for (const name of Object.keys(labels)) handles[name] = api.start(name, bodies[name], nav);
  // The Production panel reports how many generations are running, for the tab's badge.
  api.conn.on("production", "activity", (data) => {
    const n = data && data.active;
    badge.hidden = !n;
    badge.textContent = n ? String(n) : "";
  });
  api.conn.on("studio", "navigate", (data) => nav.go(data.tab, data.payload));
  api.conn.call("studio", "init").then(({ result }) => {
    homeLabel.textContent = result.home;
    homeLabel.title = `imagen-nb ${result.version} — home ${result.home}`;
  }).catch(() => {});
  select("order");
};
