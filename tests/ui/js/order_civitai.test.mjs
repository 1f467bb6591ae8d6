// The Order panel's civitai dialog and capability filter (static/order/state.js), run by node:
// the capability filter over studio.models()' columns, capability chips, sizes, import lines and
// progress, why Import cannot be pressed, what a resolved reference shows.
import assert from "node:assert/strict";

const here = new URL(".", import.meta.url);
const s = await import(new URL("../../../imagen_nb/ui/static/order/state.js", here));

const models = [
  { id: "diffusers:tiny", provider: "diffusers", type: "text-to-image", family: "sd1", description: "",
    inputs: "text,image", outputs: "image", image_to_image: true, upscale_factor: null, loras: true, hires_fix: true, max_size: 2048 },
  { id: "diffusers:tiny-esrgan", provider: "diffusers", type: "upscale", family: "esrgan", description: "",
    inputs: "image", outputs: "image", image_to_image: false, upscale_factor: 4, loras: false, hires_fix: false, max_size: 16384 },
  { id: "transformers:tiny-judge", provider: "transformers", type: "image-to-text", family: "vlm", description: "",
    inputs: "image,text", outputs: "text", image_to_image: false, upscale_factor: null, loras: false, hires_fix: false, max_size: null },
];

// The capability filter keeps what can do it; "" keeps all; it combines with type and search.
{
  const st = { ...s.initialState(), models };
  const ids = (cap, extra = {}) => s.filterModels({ ...st, capability: cap, ...extra }).map((m) => m.id);
  assert.deepEqual(ids(""), models.map((m) => m.id));
  assert.deepEqual(ids("image_to_image"), ["diffusers:tiny"]);
  assert.deepEqual(ids("loras"), ["diffusers:tiny"]);
  assert.deepEqual(ids("hires_fix"), ["diffusers:tiny"]);
  assert.deepEqual(ids("upscale"), ["diffusers:tiny-esrgan"]);
  assert.deepEqual(ids("text_out"), ["transformers:tiny-judge"]);
  assert.deepEqual(ids("large"), ["diffusers:tiny", "diffusers:tiny-esrgan"]);
  assert.deepEqual(ids("large", { type: "upscale" }), ["diffusers:tiny-esrgan"]);
  assert.deepEqual(s.capabilityChips(models[0]), ["img2img", "LoRAs", "hires fix", "≤ 2048 px"]);
  assert.deepEqual(s.capabilityChips(models[1]), ["×4", "≤ 16384 px"]);
  assert.deepEqual(s.capabilityChips(models[2]), []);
}

// Sizes and import lines: starting, running with and without a size, done, failed.
{
  assert.equal(s.sizeText(null), "size unknown");
  assert.equal(s.sizeText(512), "512 B");
  assert.equal(s.sizeText(150 * 2 ** 20), "150.0 MB");
  const j = { ref: "civitai:1", file_name: "tarot.safetensors", done: 0, total: null, state: "starting" };
  assert.equal(s.importLine(j), "tarot.safetensors · starting…");
  assert.equal(s.importFraction(j), null);
  const run = { ...j, state: "downloading", done: 2 ** 20, total: 4 * 2 ** 20 };
  assert.equal(s.importLine(run), "tarot.safetensors · 25% of 4.0 MB");
  assert.equal(s.importFraction(run), 0.25);
  assert.equal(s.importLine({ ...run, total: null }), "tarot.safetensors · 1.0 MB so far");
  assert.equal(s.importLine({ ...run, state: "done", result: "tarot", kind: "lora" }), "tarot.safetensors · in: tarot (LoRA)");
  assert.equal(s.importFraction({ ...run, state: "done" }), 1);
  assert.equal(s.importLine({ ...run, state: "failed", error: "401: log in" }), "tarot.safetensors · failed: 401: log in");
  assert.equal(s.importLine({ ...run, state: "cancelled" }), "tarot.safetensors · cancelled at 25%; import it again to resume");
  assert.equal(s.importRunning(run), true);
  assert.equal(s.importRunning({ ...run, state: "starting" }), true);
  assert.equal(s.importRunning({ ...run, state: "cancelled" }), false);
}

// Import is blocked with the reason: no token first, then nothing resolved, an unrunnable type, one running.
{
  const info = { ref: "civitai:1", kind: "lora", model_name: "Tarot", model_type: "LORA" };
  const c = { ...s.initialCivitai(), state: { key_missing: "civitai needs an API token: run `imagen-nb keys set civitai`" } };
  assert.match(s.civitaiBlocked({ ...c, info }), /keys set civitai/);
  const ok = { ...c, state: { key_missing: null } };
  assert.match(s.civitaiBlocked(ok), /Pick a search result/);
  assert.equal(s.civitaiBlocked({ ...ok, info }), null);
  assert.match(s.civitaiBlocked({ ...ok, info: { ...info, kind: null, model_type: "Poses" } }), /is a Poses/);
  assert.equal(s.civitaiBlocked({ ...ok, info, imports: [{ ref: "civitai:1", state: "downloading" }] }), "Importing…");
  assert.equal(s.civitaiBlocked({ ...ok, info, imports: [{ ref: "civitai:1", state: "failed" }] }), null);
}

// What a resolved reference shows.
{
  const lines = s.resolvedLines({ model_name: "Tarot cards", version_name: "v1.0", kind: "lora", model_type: "LORA",
    base_model: "SD 1.5", family: "stable-diffusion-1", file_name: "tarot.safetensors", size: 2 ** 20,
    air: "urn:air:sd1:lora:civitai:1@2", trigger_words: ["tarot card"],
    licence: { allowNoCredit: true, allowCommercialUse: ["Image"] } });
  const m = Object.fromEntries(lines);
  assert.equal(m.What, "Tarot cards · v1.0 (LoRA)");
  assert.equal(m["Base model"], "SD 1.5 → stable-diffusion-1");
  assert.equal(m.File, "tarot.safetensors · 1.0 MB");
  assert.equal(m["Trigger words"], "tarot card");
  assert.equal(m.Licence, "allowNoCredit: true · allowCommercialUse: Image");
}
console.log("ok");
