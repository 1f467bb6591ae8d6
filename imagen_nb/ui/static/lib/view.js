// The component base of the panels: preact (4 KB, React's model: function components, hooks,
// keyed diffing) with htm templates (JSX-like tagged templates, no build step). Vendored as
// plain ES modules by scripts/vendor_ui.py and linked into each host's module by
// imagen_nb/ui/linker.py.

/**
 * @typedef {import("preact").VNode} VNode
 */

import { h, render, Fragment, createContext } from "preact";
import {
  useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useReducer, useContext,
} from "preact/hooks";
import htm from "htm";

/** html`<div class=${c}>${children}</div>`: a template that builds preact elements. */
export const html = htm.bind(h);

export {
  h, render, Fragment, createContext,
  useState, useEffect, useLayoutEffect, useRef, useMemo, useCallback, useReducer, useContext,
};

/** Class names from parts, skipping the falsy ones: cx("a", on && "b") */
export function cx(...parts) {
  return parts.filter(Boolean).join(" ");
}

/** Epoch seconds, updated every `ms` while `live` (a clock for elapsed times and "ago"). */
export function useNow(ms, live = true) {
  const [now, setNow] = useState(() => Date.now() / 1000);
  useEffect(() => {
    if (!live) return undefined;
    const timer = setInterval(() => setNow(Date.now() / 1000), ms);
    return () => clearInterval(timer);
  }, [ms, live]);
  return now;
}

function shallowDiffers(a, b) {
  for (const key in a) if (!(key in b)) return true;
  for (const key in b) if (!Object.is(a[key], b[key])) return true;
  return false;
}

/**
 * `component` rendered again only when one of its props changed (shallow, Object.is), not each
 * time its parent renders: for the items of a long keyed list that read their own data from a
 * store (their own store subscriptions still render them when that data changes).
 */
export function memo(component) {
  function shouldUpdate(next) { return shallowDiffers(this.props, next); }
  function Memo(props) {
    this.shouldComponentUpdate = shouldUpdate;
    return h(component, props);
  }
  Memo.displayName = `Memo(${component.displayName || component.name})`;
  return Memo;
}
