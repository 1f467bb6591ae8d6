// Numbers, times and plurals as the panels show them (pure functions, no DOM).

/** "1 generation", "2,000 generations" */
export function plural(n, word, many = `${word}s`) {
  return `${Number(n).toLocaleString()} ${n === 1 ? word : many}`;
}

/** 0.42 -> "420 ms", 5.0208 -> "5.0 s", 125 -> "2 min 5 s" */
export function fmtSeconds(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return "";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Live elapsed time, whole seconds: "7 s", "2:05", "1:02:05". */
export function fmtClock(s) {
  s = Math.max(0, Math.floor(s));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  const mm = m >= 60 ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, "0")}` : String(m);
  return `${mm}:${String(s % 60).padStart(2, "0")}`;
}

/** "3 min ago" for epoch seconds or an ISO time, relative to `now` (epoch seconds). */
export function fmtAgo(when, now = Date.now() / 1000) {
  if (!when) return "";
  const t = typeof when === "number" ? when : Date.parse(when) / 1000;
  const s = Math.max(0, now - t);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 86400 * 30) return `${Math.round(s / 86400)} d ago`;
  return new Date(t * 1000).toLocaleDateString();
}

/** A parameter value for a table: floats rounded (5.020830622 -> "5.021"), objects as JSON. */
export function fmtValue(v) {
  if (typeof v === "number" && !Number.isInteger(v)) return String(Math.round(v * 1000) / 1000);
  if (typeof v === "string") return v;
  return JSON.stringify(v);
}
