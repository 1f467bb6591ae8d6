"""The text factory of the ``transformers`` provider: captioners / vision judges and instruction LLMs.

Each generation writes one text product (``text/plain``) and returns its text in the return
parameter set (``returned["text"]``), so it is queryable with SQL (the ``texts`` view).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Sequence

from ...core.errors import GenerationCancelled, ProviderError
from ...core.records import GenerationRequest, GenerationResult, ModelInfo, Output
from ..base import Factory, RunContext
from ..spec import random_seed
from .specs import _SEED

# Sampling seeds torch's global RNG: one generation at a time per process draws from it.
_rng_lock = threading.Lock()


class Loaded:
    """A loaded text model: the model, its tokenizer and (for image-to-text) its image processor."""

    def __init__(self, source: str, kind: str, device: str):
        import transformers as tf

        self.kind, self.device = kind, device
        config = tf.AutoConfig.from_pretrained(source)
        self.encoder_decoder = config.model_type == "vision-encoder-decoder"
        self.processor = None
        if kind == "text-to-text":
            self.model = tf.AutoModelForCausalLM.from_pretrained(source)
            self.tokenizer = tf.AutoTokenizer.from_pretrained(source)
        elif self.encoder_decoder:
            self.model = tf.VisionEncoderDecoderModel.from_pretrained(source)
            self.tokenizer = tf.AutoTokenizer.from_pretrained(source)
            self.image_processor = tf.AutoImageProcessor.from_pretrained(source, backend="pil")
        else:
            self.model = tf.AutoModelForImageTextToText.from_pretrained(source)
            self.processor = tf.AutoProcessor.from_pretrained(source)
            self.tokenizer = getattr(self.processor, "tokenizer", None)
        self.model.to(device).eval()

    def generate(self, params: dict[str, Any], stop, progress=lambda step, total: None) -> str:
        """The text written for one parameter set (image already a local path); ``stop()`` ends it early,
        ``progress(tokens, max_new_tokens)`` is called per token."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        total = int(params["max_new_tokens"])

        class _Stop(StoppingCriteria):
            def __init__(self):
                self.step = 0

            def __call__(self, input_ids, scores, **kwargs):
                self.step += 1
                progress(min(self.step, total), total)
                return stop()

        temperature = float(params["temperature"])
        options: dict[str, Any] = {"max_new_tokens": int(params["max_new_tokens"]),
                                   "stopping_criteria": StoppingCriteriaList([_Stop()])}
        if temperature > 0:
            options.update(do_sample=True, temperature=temperature)
        else:
            options.update(do_sample=False)
        pad = getattr(self.tokenizer, "pad_token_id", None) or getattr(self.tokenizer, "eos_token_id", None)
        if pad is not None:
            options["pad_token_id"] = pad
        with torch.no_grad():
            if self.kind == "text-to-text":
                text = params["prompt"]
                if params.get("system_prompt"):
                    if getattr(self.tokenizer, "chat_template", None):
                        text = self.tokenizer.apply_chat_template(
                            [{"role": "system", "content": params["system_prompt"]},
                             {"role": "user", "content": params["prompt"]}], tokenize=False, add_generation_prompt=True)
                    else:
                        text = f"{params['system_prompt']}\n\n{params['prompt']}"
                inputs = self._fit(self.tokenizer(text, return_tensors="pt"), total).to(self.device)
                start = inputs["input_ids"].shape[1]
                out = self._sampled(int(params["seed"]), lambda: self.model.generate(**inputs, **options))
            else:
                from PIL import Image

                with Image.open(params["image"]) as im:
                    image = im.convert("RGB")
                if self.encoder_decoder:
                    pixels = self.image_processor(images=image, return_tensors="pt").pixel_values.to(self.device)
                    prompt_ids = self.tokenizer(params["prompt"], return_tensors="pt").input_ids.to(self.device)
                    start = prompt_ids.shape[1]
                    out = self._sampled(int(params["seed"]), lambda: self.model.generate(
                        pixel_values=pixels, decoder_input_ids=prompt_ids, **options))
                    if out.shape[1] > start and (out[0][1:start + 1] == prompt_ids[0]).all():
                        start += 1  # generate put the decoder's start token before the prompt
                else:
                    inputs = self.processor(images=image, text=params["prompt"], return_tensors="pt").to(self.device)
                    start = inputs["input_ids"].shape[1] if "input_ids" in inputs else 0
                    out = self._sampled(int(params["seed"]), lambda: self.model.generate(**inputs, **options))
        return self.tokenizer.decode(out[0][start:], skip_special_tokens=True).strip()

    def _fit(self, inputs, new_tokens: int):
        """``inputs`` cut to what the model's context holds with ``new_tokens`` more: the end is kept
        (a rewriter's history grows at the front; the instruction and the latest judgement are last)."""
        config = self.model.config
        limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
        if not limit:
            return inputs
        room = int(limit) - new_tokens
        if room < 1:
            raise ValueError(f"max_new_tokens {new_tokens} fills this model's whole {limit}-token context; "
                             f"ask for at most {int(limit) - 1}")
        if inputs["input_ids"].shape[1] <= room:
            return inputs
        for key in list(inputs.keys()):
            inputs[key] = inputs[key][:, -room:]
        return inputs

    @staticmethod
    def _sampled(seed: int, fn):
        import torch

        with _rng_lock, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return fn()


class TextFactory(Factory):
    """Runs an image-to-text or text-to-text model; one text product per generation."""

    def __init__(self, model: ModelInfo, provider):
        super().__init__(model)
        self.provider = provider

    def run(self, requests: Sequence[GenerationRequest], ctx: RunContext) -> list[GenerationResult | BaseException]:
        """Write one text per request; a request cancelled before or while it runs returns GenerationCancelled."""
        results: list[GenerationResult | BaseException] = []
        for req in requests:
            try:
                results.append(self._one(req, ctx))
            except GenerationCancelled as exc:
                results.append(exc)
            except Exception as exc:  # one failure must not fail its batch-mates
                results.append(exc if isinstance(exc, ProviderError) else
                               ProviderError(f"{self.model.id} failed: {type(exc).__name__}: {exc}"))
        return results

    def _one(self, req: GenerationRequest, ctx: RunContext) -> GenerationResult:
        if ctx.cancelled(req.generation_id):
            raise GenerationCancelled("cancelled before it started")
        params = dict(req.params)
        if params.get("seed") is None:
            params["seed"] = random_seed(_SEED)
        if self.model.type == "image-to-text" and not Path(str(params["image"])).is_file():
            raise ProviderError(f"{self.model.id} reads local images only; {params['image']!r} is not a file "
                                "(give a product id or a file path)")
        loaded = self.provider.loaded(self.model)
        started = time.perf_counter()
        total = int(params["max_new_tokens"])
        text = loaded.generate(params, lambda: ctx.cancelled(req.generation_id),
                               lambda step, n: ctx.progress(req.generation_id, step, n) if step < n else None)
        if ctx.cancelled(req.generation_id):
            raise GenerationCancelled("cancelled while writing")
        ctx.progress(req.generation_id, total, total)
        return GenerationResult((Output(text.encode("utf-8"), "text/plain"),), actual=params,
                                returned={"text": text, "seed": params["seed"],
                                          "seconds": round(time.perf_counter() - started, 4)})
