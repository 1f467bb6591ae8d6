// Order: rows (issue 13). Attach a table (CSV, TSV, JSON, JSONL or Parquet, picked or dropped),
// pick a set (studio.sets), or get a DataFrame from Python (studio.widget().show(rows=df)); the
// card shows its columns and rows, which {placeholders} of the form match a column, and the
// row and column an error names. The preview fills the placeholders per row.

import { html, cx, useRef, useState } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { placeholders, plural, short, tableFault } from "./state.js";

const ACCEPT = ".csv,.tsv,.json,.jsonl,.parquet";
const SOURCE = { file: "file", set: "set", python: "from Python" };

function Attach({ app }) {
  const sets = useStore(app.store, (s) => s.sets);
  const busy = useStore(app.store, (s) => s.tableBusy);
  const file = useRef(null);
  return html`<div class="inb-order-row inb-order-rows-attach">
    <button class="inb-btn inb-btn-sm" type="button" disabled=${busy} onClick=${() => file.current.click()}>Attach table…</button>
    <select class="inb-select inb-order-rows-set" aria-label="Card set" value="" disabled=${busy}
      onChange=${(e) => { const v = e.target.value; e.target.value = ""; if (v) app.actions.attachSet(v); }}>
      <option value="">Pick a set…</option>
      ${sets.map((x) => html`<option key=${x.name} value=${x.name} title=${x.description || ""}>${x.name} · ${plural(x.rows, "row")}</option>`)}
    </select>
    <span class="inb-faint">or drop a CSV, TSV, JSON, JSONL or Parquet file here</span>
    <input type="file" accept=${ACCEPT} hidden ref=${file} aria-label="Table file"
      onChange=${(e) => { const x = e.target.files && e.target.files[0]; if (x) app.actions.attachFile(x, x.name); e.target.value = ""; }} />
  </div>`;
}

function Attached({ app, table }) {
  const used = useStore(app.store, placeholders);
  const fault = useStore(app.store, tableFault);
  const columns = new Set(table.columns);
  const unknown = used.filter((p) => !columns.has(p));
  return html`
    <div class="inb-order-rows-info">
      <span class="inb-order-rows-name" title=${table.name}>${table.name}</span>
      <span class="inb-chip">${SOURCE[table.source] || table.source}</span>
      <span class="inb-order-rows-count">${plural(table.count, "row")}</span>
      <button class="inb-btn inb-btn-link inb-btn-sm" type="button" aria-label="Detach the table" title="Order without the table again"
        onClick=${() => app.actions.detach()}>Detach</button>
    </div>
    <div class="inb-order-rows-cols" aria-label="Columns">
      ${table.columns.map((c) => html`<code key=${c} class=${cx("inb-order-colname", used.includes(c) && "inb-order-col-used",
        fault && fault.column === c && "inb-order-col-bad")} title=${used.includes(c) ? `{${c}} is used in the form` : `write {${c}} in any field`}>{${c}}</code>`)}
    </div>
    ${unknown.length ? html`<div class="inb-order-rows-unknown" role="status">Not columns of this table: ${unknown.map((u) => html`<code key=${u} class="inb-order-colname inb-order-col-bad">{${u}}</code> `)}</div>`
      : used.length ? null : html`<div class="inb-faint">Write a column as <code>{${table.columns[0] || "column"}}</code> in the prompt (or any field); a column named like a parameter sets it per row.</div>`}
    <div class="inb-order-table-wrap"><table class="inb-order-table inb-order-rows-head">
      <thead><tr><th>#</th>${table.columns.map((c) => html`<th key=${c}>${c}</th>`)}</tr></thead>
      <tbody>${table.head.map((r, i) => html`<tr key=${i} class=${cx(fault && fault.row === i + 1 && "inb-order-row-bad")}>
        <td class="inb-faint">${i + 1}</td>${table.columns.map((c) => html`<td key=${c} title=${r[c] == null ? "" : String(r[c])}>${r[c] == null ? "" : short(r[c], 40)}</td>`)}</tr>`)}
      </tbody></table></div>
    ${table.count > table.head.length ? html`<div class="inb-faint">and ${(table.count - table.head.length).toLocaleString("en-US")} more rows</div>` : null}`;
}

/** The rows card: attach or pick a table, or see the one attached. */
export function Rows({ app }) {
  const table = useStore(app.store, (s) => s.table);
  const error = useStore(app.store, (s) => s.errors.rows);
  const busy = useStore(app.store, (s) => s.tableBusy);
  const [over, setOver] = useState(false);
  const onDrop = (e) => {
    e.preventDefault();
    setOver(false);
    const dropped = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (dropped) app.actions.attachFile(dropped, dropped.name);
  };
  return html`<div class=${cx("inb-order-rows", error && "inb-invalid", over && "inb-order-drop", busy && "inb-order-busy", table && "inb-order-rows-on")}
      data-field="rows" onDragOver=${(e) => { e.preventDefault(); setOver(true); }} onDragLeave=${() => setOver(false)} onDrop=${onDrop}>
    <div class="inb-order-rows-title"><strong>Rows</strong>
      <span class="inb-faint">one generation per row, <code>{column}</code> in any field</span></div>
    ${table ? html`<${Attached} app=${app} table=${table} />` : html`<${Attach} app=${app} />`}
    ${error ? html`<div class="inb-field-error" role="alert">${error.message}</div>` : null}
  </div>`;
}
