// The Projects panel's state and the texts derived from it (pure: node can test it).

/**
 * Mirrors imagen_nb/ui/projects.py:
 * @typedef {{ id: string, name: string, description: string, status: "active"|"archived",
 *             orders: number, products: number, last_activity: number|null,
 *             sample_product_id: string|null, thumb: number|null, thumb_type: string|null,
 *             url?: string }} ProjectCard
 *   `thumb` indexes the reply's (or push's) buffers; null in a push means "unchanged" when
 *   sample_product_id is the same as before.
 * @typedef {{ products: number, unassigned: number, last_activity: number|null,
 *             sample_product_id: string|null, thumb: number|null, thumb_type: string|null }} AllCard
 * @typedef {{ projects: ProjectCard[], all: AllCard }} CardList
 * @typedef {{ field: "name"|"description", message: string }} FieldError
 * @typedef {{ loaded: boolean, loadError: string|null, cards: Object<string, ProjectCard>, ids: string[],
 *             all: AllCard|null, allUrl: string, showArchived: boolean, filter: string,
 *             creating: boolean, createError: FieldError|null, saving: boolean, menuFor: string|null,
 *             editing: {id: string, what: "name"|"description"}|null, editError: string|null,
 *             flash: string|null }} State
 */

import { plural, fmtAgo } from "../lib/format.js";

/** @returns {State} */
export function initialState() {
  return { loaded: false, loadError: null, cards: {}, ids: [], all: null, allUrl: "", showArchived: false,
    filter: "", creating: false, createError: null, saving: false, menuFor: null, editing: null, editError: null,
    flash: null };
}

/** A card's thumbnail URL: a new buffer, else the one it had while its sample product is the same. */
export function withUrl(card, buffers, prev, blobUrl) {
  if (card.thumb !== null && card.thumb !== undefined && buffers[card.thumb]) {
    return { ...card, url: blobUrl(buffers[card.thumb], card.thumb_type || "image/webp") };
  }
  return { ...card, url: prev && prev.sample_product_id === card.sample_product_id ? prev.url || "" : "" };
}

/** A whole list (a fresh load): its order is the controller's. */
export function fromList(s, result, buffers, blobUrl) {
  const cards = {};
  for (const card of result.projects) cards[card.id] = withUrl(card, buffers, s.cards[card.id], blobUrl);
  return { cards, ids: result.projects.map((c) => c.id), ...withAll(s, result.all, buffers, blobUrl) };
}

/** A live refresh: cards keep their places (no jumps while data arrives); new ones go first. */
export function reconciled(s, result, buffers, blobUrl) {
  const cards = {};
  const fresh = [];
  for (const card of result.projects) {
    cards[card.id] = withUrl(card, buffers, s.cards[card.id], blobUrl);
    if (!s.cards[card.id]) fresh.push(card.id);
  }
  // A card being edited stays until the edit ends, even when the refresh no longer lists it.
  const editing = s.editing && s.cards[s.editing.id] && !cards[s.editing.id] ? s.editing.id : null;
  if (editing) cards[editing] = s.cards[editing];
  const ids = [...fresh, ...s.ids.filter((id) => cards[id])];
  return { cards, ids, ...withAll(s, result.all, buffers, blobUrl) };
}

function withAll(s, all, buffers, blobUrl) {
  if (!all) return {};
  let allUrl = s.allUrl;
  if (all.thumb !== null && all.thumb !== undefined && buffers[all.thumb]) allUrl = blobUrl(buffers[all.thumb], all.thumb_type || "image/webp");
  else if (!all.sample_product_id) allUrl = "";
  return { all, allUrl };
}

/** One card changed (created, renamed, archived…): archived ones leave unless shown. */
export function withCard(s, card, buffers, blobUrl, { first = false } = {}) {
  const cards = { ...s.cards };
  let ids = s.ids;
  if (card.status === "archived" && !s.showArchived) {
    delete cards[card.id];
    return { cards, ids: ids.filter((id) => id !== card.id) };
  }
  cards[card.id] = withUrl(card, buffers, s.cards[card.id], blobUrl);
  if (!ids.includes(card.id)) ids = first ? [card.id, ...ids] : [...ids, card.id];
  return { cards, ids };
}

/** Cards the filter lets through (name or description contains it). */
export function visibleIds(s) {
  const q = s.filter.trim().toLowerCase();
  if (!q) return s.ids;
  return s.ids.filter((id) => {
    const c = s.cards[id];
    return c.name.toLowerCase().includes(q) || (c.description || "").toLowerCase().includes(q);
  });
}

/** "3" or "3 active · 1 archived" */
export function countText(s) {
  const active = s.ids.filter((id) => s.cards[id].status === "active").length;
  return s.showArchived ? `${active} active · ${s.ids.length - active} archived` : String(active);
}

/** "2 orders · 8 products · 3 min ago" */
export function metaText(card, now) {
  const parts = [plural(card.orders, "order"), plural(card.products, "product")];
  if (card.last_activity) parts.push(fmtAgo(card.last_activity, now));
  return parts.join(" · ");
}

/** The "All products" card's line. */
export function allText(all, now) {
  const parts = [plural(all.products, "product")];
  if (all.unassigned) parts.push(`${all.unassigned.toLocaleString()} without a project`);
  if (all.last_activity) parts.push(fmtAgo(all.last_activity, now));
  return parts.join(" · ");
}

/** A stable hue for a project's name (the cover of a project without products). */
export function hue(text) {
  let n = 0;
  for (const c of text) n = (n * 31 + c.codePointAt(0)) % 360;
  return n;
}
