// One state store per panel: every component reads from it and every status text is derived
// from it, so nothing on screen can outlive the state that produced it.

/**
 * @template S
 * @typedef {{ get(): S, set(patch: Partial<S> | ((s: S) => Partial<S> | null)): void,
 *             subscribe(fn: (s: S) => void): () => void }} Store
 */

import { useEffect, useReducer, useRef } from "./view.js";

/**
 * A store holding one immutable state object; `set` merges a patch (or the patch a function
 * returns) and tells the subscribers once.
 * @template S
 * @param {S} initial
 * @returns {Store<S>}
 */
export function createStore(initial) {
  let state = initial;
  const subscribers = new Set();
  return {
    get: () => state,
    set(patch) {
      const next = typeof patch === "function" ? patch(state) : patch;
      if (!next) return;
      state = { ...state, ...next };
      for (const fn of subscribers) fn(state);
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
}

/**
 * The part of a store's state a component shows; it renders again only when that part
 * changes (compared with Object.is; preact batches the renders of one update).
 * @template S, T
 * @param {Store<S>} store
 * @param {(s: S) => T} [select]
 * @returns {T}
 */
export function useStore(store, select = (s) => s) {
  const [, rerender] = useReducer((n) => n + 1, 0);
  const selectRef = useRef(select);
  selectRef.current = select;
  const value = select(store.get());
  const valueRef = useRef(value);
  valueRef.current = value;
  useEffect(() => store.subscribe((s) => {
    if (!Object.is(selectRef.current(s), valueRef.current)) rerender();
  }), [store]);
  return value;
}
