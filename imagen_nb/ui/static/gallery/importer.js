// Gallery: importing images (and folders) with their parameters: a file picker, a folder
// picker, and a drop zone over the whole panel (A1111's "PNG Info", done our way).

import { html, useRef } from "../lib/view.js";
import { useStore } from "../lib/store.js";

/** Every file under a dropped entry (folders recursively). */
async function filesOf(entry) {
  if (entry.isFile) return [await new Promise((ok, fail) => entry.file(ok, fail))];
  const reader = entry.createReader();
  const all = [];
  for (;;) {
    const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) break;
    all.push(...batch);
  }
  return (await Promise.all(all.map(filesOf))).flat();
}

/** "Import…" and "Folder…" with their (hidden) file inputs. */
export function ImportButtons({ app }) {
  const files = useRef(null);
  const folder = useRef(null);
  const take = (e) => { const input = e.currentTarget; app.actions.importFiles([...input.files]); input.value = ""; };
  return html`
    <button class="inb-btn" title="Import images with their parameters (or drop files and folders here)"
      onClick=${() => files.current.click()}>Import…</button>
    <button class="inb-btn inb-btn-sm" title="Import every image of a folder" onClick=${() => folder.current.click()}>Folder…</button>
    <input ref=${files} type="file" multiple accept="image/*" hidden aria-label="Import images" onChange=${take} />
    <input ref=${folder} type="file" multiple webkitdirectory hidden aria-label="Import a folder" onChange=${take} />`;
}

const dragsFiles = (e) => !!e.dataTransfer && [...e.dataTransfer.types].includes("Files");

/** Event handlers for the panel's root: dragging files over it shows the drop zone. */
export function dropHandlers(actions) {
  let depth = 0;
  return {
    onDragEnter: (e) => { if (!dragsFiles(e)) return; e.preventDefault(); depth++; actions.dragging(true); },
    onDragOver: (e) => { if (dragsFiles(e)) { e.preventDefault(); e.dataTransfer.dropEffect = "copy"; } },
    onDragLeave: () => { depth = Math.max(0, depth - 1); if (!depth) actions.dragging(false); },
    onDrop: async (e) => {
      if (!dragsFiles(e)) return;
      e.preventDefault();
      depth = 0;
      actions.dragging(false);
      const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
      const dropped = [...e.dataTransfer.files];
      const files = entries.length ? (await Promise.all(entries.map(filesOf))).flat() : dropped;
      actions.importFiles(files);
    },
  };
}

/** The drop zone's overlay while files are dragged over the panel. */
export function DropHint({ app }) {
  const on = useStore(app.store, (s) => s.dragging);
  return on ? html`<div class="inb-gallery-drop" aria-hidden="true">
    <strong>Drop images or folders to import them</strong><span>Their A1111 or imagen-nb parameters come along.</span></div>` : null;
}
