// Order: the parameter form drawn from the model's JSON-schema spec. Each field has a short
// friendly label (the parameter's own name, range and full help on hover), SmartParameter
// syntax in any field (marked "smart"), and its error in place, with the column marked.

import { html, cx, useState, useMemo, useRef, useEffect } from "../lib/view.js";
import { useStore } from "../lib/store.js";
import { SMART, fieldGroups, hoverText, parseLoras, placeholderSpans, stepValue } from "./state.js";
import { LoraField } from "./loras.js";
import { ImageField } from "./images.js";

let uid = 0;

/** The error under a field; a SmartParameter error shows the text around its column. */
function FieldError({ error, text }) {
  if (!error.column) return html`<div class="inb-field-error" role="alert">${error.message}</div>`;
  const i = Math.max(0, Math.min(text.length, error.column - 1));
  const from = Math.max(0, i - 24);
  return html`<div class="inb-field-error" role="alert"><span>Column ${error.column}: ${error.message}</span>
    <div class="inb-order-caret inb-mono">${from ? "…" : ""}${text.slice(from, i)}<mark>${text.slice(i, i + 1) || " "}</mark>${text.slice(i + 1, i + 24)}${i + 24 < text.length ? "…" : ""}</div></div>`;
}

/** A prompt's text with its {column} placeholders marked while a table is attached: a column of the
 * table, or (red) a name the table lacks. Nothing without a table or a placeholder. */
function Placeholders({ app, text }) {
  const columns = useStore(app.store, (s) => (s.table ? s.table.columns : null));
  if (!columns || !text || !text.includes("{")) return null;
  const spans = placeholderSpans(text, columns);
  if (!spans.some((p) => p.kind !== "text")) return null;
  return html`<div class="inb-order-holders inb-mono" aria-label="placeholders">${spans.map((p) => p.kind === "text" ? p.text
    : html`<mark class=${p.kind === "column" ? "inb-order-holder" : "inb-order-holder inb-order-holder-bad"}
        title=${p.kind === "column" ? "a column of the attached table" : "no column of the attached table has this name"}>${p.text}</mark>`)}</div>`;
}

/** A plain text, prompt, number or JSON field. */
function TextField({ app, f, id, value }) {
  const area = f.kind === "prompt";
  const def = f.default !== null && f.default !== undefined && f.default !== "" ? f.default : "";
  let placeholder = def ? `${def}` : "";
  if (f.name === "prompt") placeholder = "a [red,blue] kite over the sea — [a,b] each, [1..4] range, [a|b] one at random, [token]";
  else if (f.kind === "integer" || f.kind === "number") placeholder = def ? `${def}` : (f.name === "seed" ? "random" : "");
  else if (f.kind === "json") placeholder = def || "JSON, or the provider's text form";
  const onInput = (e) => app.actions.setValue(f.name, e.target.value);
  const onFocus = (e) => { app.lastText = { el: e.target, name: f.name }; };
  if (area) {
    return html`<textarea class="inb-textarea" id=${id} rows=${f.name === "prompt" ? 3 : 2} placeholder=${placeholder}
      spellcheck="true" value=${value} onInput=${onInput} onFocus=${onFocus} /><${Placeholders} app=${app} text=${value} />`;
  }
  const numeric = f.kind === "integer" || f.kind === "number";
  const onKeyDown = numeric ? (e) => {
    if (e.key !== "ArrowUp" && e.key !== "ArrowDown") return;
    const next = stepValue(f, e.target.value, e.key === "ArrowUp", e.shiftKey);
    if (next === null) return;
    e.preventDefault();
    app.actions.setValue(f.name, next);
  } : undefined;
  return html`<input class="inb-input" id=${id} placeholder=${placeholder} spellcheck="false" autocomplete="off"
    inputmode=${numeric ? "decimal" : undefined} value=${value} onInput=${onInput} onFocus=${onFocus} onKeyDown=${onKeyDown} />`;
}

const CUSTOM = "\u0000custom";
/** An enum or boolean: a select, or free text for smart syntax ("Several…"). */
function ChoiceField({ app, f, id, value }) {
  const choices = f.choices || [];
  const listed = value === "" || choices.includes(value);
  const [custom, setCustom] = useState(!listed);
  const own = useRef(value);       // the last value this field wrote: another one came from a prefill
  const focusText = useRef(false);
  const textRef = useRef(null);
  if (value !== own.current) { own.current = value; if (custom && listed) setCustom(false); }
  const text = (custom && own.current === value) || !listed;
  useEffect(() => {
    if (focusText.current && textRef.current) { focusText.current = false; textRef.current.focus(); }
  });
  const write = (v, opts) => { own.current = v; app.actions.setValue(f.name, v, opts); };
  const back = () => {
    const v = value.trim();
    setCustom(false);
    write(choices.includes(v) ? v : "");
  };
  return html`<div class="inb-order-choice">
    <select class="inb-select" id=${id} hidden=${text} value=${text ? "" : value}
      onChange=${(e) => {
        if (e.target.value === CUSTOM) { focusText.current = true; setCustom(true); write("", { preview: false }); }
        else write(e.target.value);
      }}>
      <option value="">${f.default !== null && f.default !== undefined ? `Default (${f.default})` : "—"}</option>
      ${choices.map((c) => html`<option key=${c} value=${c}>${c}</option>`)}
      <option value=${CUSTOM}>Several… (smart syntax)</option>
    </select>
    ${text ? html`<input class="inb-input" ref=${textRef} placeholder=${`[${choices.slice(0, 2).join(",")}]`} spellcheck="false"
        value=${value} onInput=${(e) => write(e.target.value)}
        onFocus=${(e) => { app.lastText = { el: e.target, name: f.name }; }} />
      <button class="inb-btn inb-btn-icon" type="button" title="Back to the list" aria-label="Back to the list" onClick=${back}>≡</button>` : null}
  </div>`;
}

/** One field: label (friendly, the parameter name on hover), control, help, error. */
export function Field({ app, f }) {
  const value = useStore(app.store, (s) => s.values[f.name] ?? "");
  const error = useStore(app.store, (s) => s.errors[f.name]);
  const id = useMemo(() => `inb-order-${f.name}-${++uid}`, [f.name]);
  let control;
  let smart = SMART.test(value);
  if (f.kind === "enum" || f.kind === "boolean") control = html`<${ChoiceField} app=${app} f=${f} id=${id} value=${value} />`;
  else if (f.kind === "image") control = html`<${ImageField} app=${app} f=${f} id=${id} value=${value} />`;
  else if (f.name === "loras" && f.kind === "json") {
    control = html`<${LoraField} app=${app} f=${f} id=${id} value=${value} />`;
    smart = smart && parseLoras(value) === null;  // JSON's brackets are not groups: only the text form holds those
  } else control = html`<${TextField} app=${app} f=${f} id=${id} value=${value} />`;
  return html`<div class=${cx("inb-field inb-order-field", `inb-order-k-${f.kind}`, error && "inb-invalid", smart && "inb-order-smart")}
      data-field=${f.name}>
    <label class="inb-label" for=${id} title=${hoverText(f)}>
      <span class="inb-order-ltext">${f.label}</span>${f.required ? html`<span class="inb-order-req" title="required"> *</span>` : null}
    </label>
    ${control}
    ${f.range || f.description ? html`<div class="inb-help" title=${f.description || ""}>
      ${f.range ? html`<span class="inb-order-range">${f.range}</span>` : null}${f.description ? html`<span>${f.description}</span>` : null}</div>` : null}
    ${error ? html`<${FieldError} error=${error} text=${value} />` : null}
  </div>`;
}

/** The form: prompts, image inputs, the short fields in a grid, long structured ones, then the
 *  advanced ones folded away (open when one holds a value or an error). */
export function Form({ app }) {
  const form = useStore(app.store, (s) => s.form);
  const open = useStore(app.store, (s) => s.advancedOpen);
  const g = useMemo(() => fieldGroups(form), [form]);
  if (!form) return null;
  const fields = (list) => list.map((f) => html`<${Field} key=${`${form.id}:${f.name}`} app=${app} f=${f} />`);
  return html`
    <div class="inb-order-form">
      ${fields(g.prompt)}${fields(g.image)}
      ${g.grid.length ? html`<div class="inb-order-grid">${fields(g.grid)}</div>` : null}
      ${fields(g.json)}
    </div>
    ${g.advanced.length ? html`<details class="inb-order-advanced" open=${open}
        onToggle=${(e) => { if (e.target.open !== open) app.actions.toggleAdvanced(e.target.open); }}>
      <summary>Advanced · ${g.advanced.length}</summary>
      <div class="inb-order-form inb-order-grid">${fields(g.advanced)}</div>
    </details>` : null}`;
}
