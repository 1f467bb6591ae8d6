"""LoRA training on a Stable Diffusion UNet, the way diffusers' ``train_text_to_image_lora.py`` does it.

diffusers, peft and accelerate do the work: a fresh copy of the base model's components
(``from_pretrained``), a peft ``LoraConfig`` added to the UNet's attention projections
(``to_q``, ``to_k``, ``to_v``, ``to_out.0``), the noise-prediction loss with a ``DDPMScheduler``
made from the base model's scheduler config (its betas; epsilon or v-prediction as the config
says), Min-SNR weighting (``compute_snr``) when asked, AdamW with diffusers' ``get_scheduler``,
``accelerate`` for the device, mixed precision (bf16, else fp16, on a GPU) and the
optimizer/scheduler/LoRA state of a checkpoint (``save_state`` / ``load_state`` with the same
save/load hooks as the example, so only the LoRA weights are written, never the frozen UNet).

What differs from the example, and why:

- **Latents are cached once per image** (the VAE's ``latent_dist`` parameters, sampled per step
  with :class:`DiagonalGaussianDistribution`), and so are the caption embeddings while the text
  encoder is frozen: encoding them at every step would only cost time. With
  ``train_text_encoder`` (the DreamBooth LoRA example's option: a second peft ``LoraConfig`` on
  the CLIP text encoder's ``q_proj``/``k_proj``/``v_proj``/``out_proj``, its own parameter group
  in the optimizer) the captions' token ids are cached instead and encoded at every step, since
  the encoder changes; checkpoints then hold both parts in diffusers' format (``unet.…`` and
  ``text_encoder.…`` keys, each with its adapter metadata), which ``load_lora_weights`` applies.
- **Every random draw of a step comes from a generator seeded by (seed, step)**: the batch
  (a seeded permutation per epoch), the latent sample, the noise, the timesteps and caption
  dropout. A run resumed from the checkpoint at step k therefore takes exactly the steps an
  uninterrupted run takes, and reaches the same weights.
- **Resize policy**: with ``aspect="crop"`` (default) each image is resized so its shorter side
  is the resolution and centre-cropped to a square (diffusers' ``VaeImageProcessor`` with
  ``resize_mode="crop"``; the example's ``Resize`` + ``CenterCrop``). With ``aspect="bucket"``
  each image goes to the aspect-ratio bucket nearest its own (:func:`~imagen_nb.core.training.bucket_sizes`:
  about resolution² pixels, sides multiples of 64), resized to cover it and centre-cropped the same
  way, and each batch is drawn from one bucket: per epoch, each bucket's images in a seeded order
  cut into batches, and the batches in a seeded order.

Nothing here touches the catalog; the Studio's training service drives a :class:`LoraTrainer`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...core.errors import ProviderError
from ...core.training import TrainingConfig, TrainingExample, target_size
from .pipelines import quiet_progress_bars
from .models import tiny_model
from .specs import SD1, SD2

if TYPE_CHECKING:
    from ...core.records import ModelInfo

#: Model families whose UNet this trainer can teach (StableDiffusionPipeline folders).
TRAINABLE_FAMILIES = (SD1, SD2)
#: The attention projections LoRA is added to (the example's ``target_modules``).
TARGET_MODULES = ("to_k", "to_q", "to_v", "to_out.0")
#: The CLIP text encoder's attention projections (the DreamBooth LoRA example's ``target_modules``).
TEXT_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "out_proj")
#: Key of our metadata in the safetensors header (beside diffusers' ``lora_adapter_metadata``).
METADATA_KEY = "imagen_nb"
STATE_PREFIX = "state-"
_DONE_MARK = "done.json"
MAX_GRAD_NORM = 1.0


def check_trainable(model: ModelInfo) -> None:
    """Refuse, before any work, a model this trainer cannot teach."""
    if model.family not in TRAINABLE_FAMILIES:
        raise ProviderError(
            f"LoRA training works on {' and '.join(TRAINABLE_FAMILIES)} models so far; {model.id} is"
            f" {model.family}. Pick a Stable Diffusion 1 or 2 model as base, e.g. base='diffusers:tiny'.")


def pick_precision(config: TrainingConfig, device: str) -> str:
    """``config.mixed_precision``, else bf16 (or fp16 where bf16 is not supported) on CUDA and no elsewhere."""
    if config.mixed_precision is not None:
        if config.mixed_precision != "no" and not device.startswith("cuda"):
            raise ProviderError(f"mixed_precision={config.mixed_precision!r} needs a CUDA GPU; this studio trains on"
                                f" {device}. Leave mixed_precision=None (chosen for the device) or 'no'.")
        return config.mixed_precision
    if not device.startswith("cuda"):
        return "no"
    import torch

    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


class LoraTrainer:
    """Teaches a LoRA to the UNet of ``location`` from ``examples``; one step at a time.

    Args:
        model: the base model (its id and family go into the checkpoints' metadata).
        location: the base model's diffusers folder (or hub id).
        examples: the images and captions.
        config: the hyperparameters.
        device: the torch device (``cpu``, ``cuda``, ``cuda:1``…).
        metadata: what every saved LoRA file records besides the step (run id, base hash, dataset…).
    """

    def __init__(self, model: ModelInfo, location: str, examples: Sequence[TrainingExample], config: TrainingConfig,
                 device: str, metadata: Mapping[str, Any]):
        if not examples:
            raise ProviderError("a LoRA needs at least one training image")
        self.model = model
        self.location = location
        self.examples = list(examples)
        self.config = config
        self.device = device
        self.metadata = dict(metadata)
        self.precision = pick_precision(config, device)
        if self.precision == "fp16" and config.mixed_precision is None and model.id == tiny_model().id:
            self.precision = "no"  # diffusers:tiny's colour-codec VAE lies under float16's range (bf16 keeps it)
        self._ready = False

    # -- preparing ------------------------------------------------------------------------
    def prepare(self) -> None:
        """Load the components, add the LoRA, cache latents and caption embeddings (once)."""
        if self._ready:
            return
        import torch
        from accelerate import Accelerator
        from diffusers import DDPMScheduler, StableDiffusionPipeline
        from diffusers.optimization import get_scheduler
        from diffusers.training_utils import cast_training_params
        from peft import LoraConfig

        config = self.config
        accelerator = Accelerator(mixed_precision=self.precision, cpu=not self.device.startswith("cuda"))
        weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(self.precision, torch.float32)
        with quiet_progress_bars():
            try:
                base = StableDiffusionPipeline.from_pretrained(self.location, safety_checker=None,
                                                               requires_safety_checker=False)
            except Exception as exc:
                raise ProviderError(f"cannot load {self.model.id} from {self.location} to train on it: {exc}") from exc
        unet, vae, text_encoder = base.unet, base.vae, base.text_encoder
        self.tokenizer = base.tokenizer
        self.sample_scheduler = base.scheduler
        self.noise_scheduler = DDPMScheduler.from_config(base.scheduler.config)
        for module in (unet, vae, text_encoder):
            module.requires_grad_(False)
        device = accelerator.device
        for module in (unet, vae, text_encoder):  # the frozen weights in the training precision
            module.to(device) if weight_dtype == torch.float32 else module.to(device, dtype=weight_dtype)
        with torch.random.fork_rng(devices=[]):  # peft's gaussian init draws from the global RNG
            torch.manual_seed(config.seed)
            unet.add_adapter(LoraConfig(r=config.rank, lora_alpha=config.alpha, init_lora_weights="gaussian",
                                        target_modules=list(TARGET_MODULES)))
            if config.train_text_encoder:  # after the UNet's: its init is the same with or without
                text_encoder.add_adapter(LoraConfig(r=config.rank, lora_alpha=config.alpha,
                                                    init_lora_weights="gaussian",
                                                    target_modules=list(TEXT_TARGET_MODULES)))
        trained = [unet, text_encoder] if config.train_text_encoder else [unet]
        if self.precision == "fp16":
            cast_training_params(trained, dtype=torch.float32)  # the trainable LoRA weights stay fp32
        checkpointing = config.gradient_checkpointing
        if checkpointing is None:
            checkpointing = self.device.startswith("cuda")
        if checkpointing:
            unet.enable_gradient_checkpointing()
            if config.train_text_encoder:  # transformers 5 renamed it (the old name warns)
                enable = getattr(text_encoder, "activation_checkpointing_enable", None) \
                    or text_encoder.gradient_checkpointing_enable
                enable()
        params = [p for p in unet.parameters() if p.requires_grad]
        groups = [{"params": params, "lr": config.learning_rate}]
        if config.train_text_encoder:
            text_params = [p for p in text_encoder.parameters() if p.requires_grad]
            groups.append({"params": text_params, "lr": config.text_lr})
            params = params + text_params
        optimizer = torch.optim.AdamW(groups, lr=config.learning_rate, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8)
        lr_scheduler = get_scheduler(config.lr_scheduler, optimizer=optimizer,
                                     num_warmup_steps=config.lr_warmup_steps, num_training_steps=config.steps)
        self.vae, self.text_encoder = vae, text_encoder
        self.weight_dtype = weight_dtype
        self.accelerator = accelerator
        self._register_hooks(accelerator, unet, text_encoder)
        if config.train_text_encoder:
            self.unet, self.text_encoder, self.optimizer, self.lr_scheduler = accelerator.prepare(
                unet, text_encoder, optimizer, lr_scheduler)
        else:
            self.unet, self.optimizer, self.lr_scheduler = accelerator.prepare(unet, optimizer, lr_scheduler)
        self.params = params
        self._cache()
        self._ready = True

    def _register_hooks(self, accelerator, unet, text_encoder) -> None:
        """Checkpoints hold the LoRA weights only (the example's ``save_model_hook`` / ``load_model_hook``),
        of the UNet and, with ``train_text_encoder``, of the text encoder."""
        from diffusers import StableDiffusionPipeline
        from diffusers.utils import convert_state_dict_to_diffusers, convert_state_dict_to_peft, \
            convert_unet_state_dict_to_peft
        from peft.utils import set_peft_model_state_dict

        unet_class, text_class = type(unet), type(text_encoder)

        def save_hook(models, weights, output_dir):
            while weights:  # the frozen models are never written: the LoRA layers below are all
                weights.pop()
            StableDiffusionPipeline.save_lora_weights(output_dir, safe_serialization=True, **self._lora_layers())

        def load_hook(models, input_dir):
            targets = {}
            while models:
                model = accelerator.unwrap_model(models.pop())
                targets[unet_class if isinstance(model, unet_class) else text_class] = model
            state, _ = StableDiffusionPipeline.lora_state_dict(input_dir)
            parts = [(targets.get(unet_class), "unet.", convert_unet_state_dict_to_peft)]
            if self.config.train_text_encoder:
                parts.append((targets.get(text_class), "text_encoder.",
                              lambda d: convert_state_dict_to_peft(convert_state_dict_to_diffusers(d))))
            for target, prefix, convert in parts:
                part = {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
                if target is None or not part:
                    raise ProviderError(f"the checkpoint in {input_dir} has no {prefix.rstrip('.')} LoRA weights"
                                        " that this run trains: was it made with other settings (train_text_encoder)?")
                incompatible = set_peft_model_state_dict(target, convert(part), adapter_name="default")
                unexpected = getattr(incompatible, "unexpected_keys", None)
                if unexpected:
                    raise ProviderError(f"the checkpoint in {input_dir} does not fit this LoRA (unexpected keys such"
                                        f" as {unexpected[0]!r}): was it made with another rank or base model?")
            if self.precision == "fp16":
                from diffusers.training_utils import cast_training_params

                cast_training_params(list(targets.values()))

        accelerator.register_save_state_pre_hook(save_hook)
        accelerator.register_load_state_pre_hook(load_hook)

    def _cache(self) -> None:
        """Latent distributions of every image and embeddings of every caption (and of "")."""
        import torch
        from diffusers.image_processor import VaeImageProcessor
        from PIL import Image

        scale = 2 ** (len(self.vae.config.block_out_channels) - 1)
        processor = VaeImageProcessor(vae_scale_factor=scale)
        device = self.accelerator.device
        moments = []
        with torch.no_grad():
            for example in self.examples:
                try:
                    with Image.open(example.path) as im:
                        image = im.convert("RGB")
                except OSError as exc:
                    raise ProviderError(f"product {example.product_id}: cannot read its image {example.path}"
                                        f" ({exc}); remove it from the dataset.") from exc
                width, height = self._target(example, image.size)
                pixels = processor.preprocess(image, height=height, width=width, resize_mode="crop")
                dist = self.vae.encode(pixels.to(device, dtype=self.weight_dtype)).latent_dist
                moments.append(dist.parameters.float().cpu())
            self.moments = moments  # one (1, 2C, h, w) tensor per image: buckets differ in h and w
            captions = sorted({e.caption for e in self.examples} | {""})
            ids = {c: self.tokenizer(c, padding="max_length", max_length=self.tokenizer.model_max_length,
                                     truncation=True, return_tensors="pt").input_ids[0] for c in captions}
            self.input_ids = torch.stack([ids[e.caption] for e in self.examples])
            self.empty_ids = ids[""]
            if not self.config.train_text_encoder:  # a frozen encoder: each caption's embedding once
                embeddings = {c: self.text_encoder(i[None].to(device), return_dict=False)[0][0].cpu()
                              for c, i in ids.items()}
                self.embeddings = torch.stack([embeddings[e.caption] for e in self.examples])
                self.empty_embedding = embeddings[""]

    def _target(self, example: TrainingExample, size: tuple[int, int]) -> tuple[int, int]:
        """(width, height) ``example`` is trained at: as shown before training, else from its image's size."""
        if example.target_width and example.target_height:
            return int(example.target_width), int(example.target_height)
        return target_size(size[0], size[1], self.config)

    # -- stepping -------------------------------------------------------------------------
    def _generator(self, step: int):
        import torch

        return torch.Generator(device="cpu").manual_seed((self.config.seed * 1_000_003 + step) % (2**63))

    def batch_indices(self, step: int) -> list[int]:
        """The dataset rows of step ``step`` (0-based): consecutive slices of one seeded
        permutation per epoch, so each image is seen once per epoch; with ``aspect="bucket"``
        the ``step``-th batch of :meth:`bucket_batches`."""
        import torch

        if self.config.aspect == "bucket":
            count = len(self.bucket_batches(0))
            epoch, i = divmod(step, count)
            return self.bucket_batches(epoch)[i]
        n, size = len(self.examples), self.config.batch_size
        out = []
        for k in range(step * size, step * size + size):
            epoch, i = divmod(k, n)
            order = torch.randperm(n, generator=torch.Generator().manual_seed(self.config.seed + 7919 * epoch))
            out.append(int(order[i]))
        return out

    def buckets(self) -> dict[tuple[int, int], list[int]]:
        """Dataset rows by the (width, height) they are trained at (their bucket), in dataset order."""
        if getattr(self, "_buckets", None) is None:
            groups: dict[tuple[int, int], list[int]] = {}
            for i, example in enumerate(self.examples):
                if example.target_width and example.target_height:
                    key = (int(example.target_width), int(example.target_height))
                else:
                    key = target_size(example.width, example.height, self.config)
                groups.setdefault(key, []).append(i)
            self._buckets = dict(sorted(groups.items()))
        return self._buckets

    def bucket_batches(self, epoch: int) -> list[list[int]]:
        """The batches of one epoch with ``aspect="bucket"``: each bucket's rows in a seeded order cut
        into batches of ``batch_size`` (a bucket's last one may be smaller), then all batches in a
        seeded order. Every image once per epoch, every batch of one size, the same for the same seed."""
        import torch

        g = torch.Generator().manual_seed(self.config.seed + 7919 * epoch)
        size = self.config.batch_size
        batches = []
        for rows in self.buckets().values():
            shuffled = [rows[int(i)] for i in torch.randperm(len(rows), generator=g)]
            batches += [shuffled[k:k + size] for k in range(0, len(shuffled), size)]
        return [batches[int(i)] for i in torch.randperm(len(batches), generator=g)]

    def step(self, step: int) -> float:
        """Run optimizer step ``step`` (0-based); return its loss."""
        import torch
        import torch.nn.functional as F
        from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
        from diffusers.training_utils import compute_snr

        self.prepare()
        accelerator, scheduler, config = self.accelerator, self.noise_scheduler, self.config
        device = accelerator.device
        rows = self.batch_indices(step)
        g = self._generator(step)
        self.last_batch_size = len(rows)
        latents = DiagonalGaussianDistribution(torch.cat([self.moments[r] for r in rows])).sample(generator=g)
        latents = (latents * self.vae.config.scaling_factor).to(device, dtype=self.weight_dtype)
        noise = torch.randn(latents.shape, generator=g).to(device, dtype=self.weight_dtype)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(rows),), generator=g).to(device)
        drop = torch.rand(len(rows), generator=g) < config.caption_dropout
        if config.train_text_encoder:  # the encoder learns: encode this step's captions with it
            ids = self.input_ids[rows].clone()
            ids[drop] = self.empty_ids
            self.text_encoder.train()
            text = self.text_encoder(ids.to(device), return_dict=False)[0].to(dtype=self.weight_dtype)
        else:
            text = self.embeddings[rows].clone()
            text[drop] = self.empty_embedding
            text = text.to(device, dtype=self.weight_dtype)
        noisy = scheduler.add_noise(latents, noise, timesteps)
        if scheduler.config.prediction_type == "epsilon":
            target = noise
        elif scheduler.config.prediction_type == "v_prediction":
            target = scheduler.get_velocity(latents, noise, timesteps)
        else:
            raise ProviderError(f"{self.model.id}'s scheduler predicts {scheduler.config.prediction_type!r}; LoRA"
                                " training supports 'epsilon' and 'v_prediction'.")
        self.unet.train()
        prediction = self.unet(noisy, timesteps, text, return_dict=False)[0]
        if config.snr_gamma is None:
            loss = F.mse_loss(prediction.float(), target.float(), reduction="mean")
        else:  # Min-SNR weighting, as the example computes it
            snr = compute_snr(scheduler, timesteps)
            weights = torch.stack([snr, config.snr_gamma * torch.ones_like(timesteps)], dim=1).min(dim=1)[0]
            weights = weights / (snr + 1) if scheduler.config.prediction_type == "v_prediction" else weights / snr
            loss = F.mse_loss(prediction.float(), target.float(), reduction="none")
            loss = (loss.mean(dim=list(range(1, loss.ndim))) * weights).mean()
        accelerator.backward(loss)
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(self.params, MAX_GRAD_NORM)
        self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(loss.detach().item())

    @property
    def lr(self) -> float:
        """The learning rate of the next step."""
        return float(self.lr_scheduler.get_last_lr()[0])

    # -- samples --------------------------------------------------------------------------
    def sample(self, prompts: Sequence[str], *, seed: int, steps: int, guidance_scale: float = 7.5) -> list[bytes]:
        """PNG bytes of one image per prompt, made with the LoRA as it is now (same seed each time)."""
        import io

        import torch
        from diffusers import StableDiffusionPipeline

        self.prepare()
        unet = self.accelerator.unwrap_model(self.unet)
        text_encoder = self.accelerator.unwrap_model(self.text_encoder)
        pipe = StableDiffusionPipeline(vae=self.vae, text_encoder=text_encoder, tokenizer=self.tokenizer, unet=unet,
                                       scheduler=self.sample_scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        size = self.config.resolution
        out = []
        unet.eval()
        text_encoder.eval()
        try:
            with torch.no_grad(), self.accelerator.autocast():
                for i, prompt in enumerate(prompts):
                    generator = torch.Generator(device="cpu").manual_seed(seed + i)
                    image = pipe(prompt, height=size, width=size, num_inference_steps=steps,
                                 guidance_scale=guidance_scale, generator=generator).images[0]
                    buffer = io.BytesIO()
                    image.save(buffer, format="PNG")
                    out.append(buffer.getvalue())
        finally:
            unet.train()
            if self.config.train_text_encoder:
                text_encoder.train()
        return out

    # -- saving and resuming --------------------------------------------------------------
    def _lora_layers(self) -> dict[str, Any]:
        """``save_lora_weights`` arguments: the LoRA layers of the UNet (and of the text encoder when it
        learns) in diffusers' format, with each one's adapter metadata (rank, alpha, targets)."""
        from diffusers.utils import convert_state_dict_to_diffusers
        from peft.utils import get_peft_model_state_dict

        parts = {"unet": self.unet}
        if self.config.train_text_encoder:
            parts["text_encoder"] = self.text_encoder
        out: dict[str, Any] = {}
        for name, module in parts.items():
            model = self.accelerator.unwrap_model(module)
            config = model.peft_config["default"].to_dict()
            out[f"{name}_lora_layers"] = convert_state_dict_to_diffusers(get_peft_model_state_dict(model))
            out[f"{name}_lora_adapter_metadata"] = {k: (sorted(v) if isinstance(v, set) else v)
                                                     for k, v in config.items()}
        return out

    def save_lora(self, path: Path, step: int) -> None:
        """Write the LoRA as it is now to ``path`` (atomically), with our metadata beside diffusers'."""
        from diffusers import StableDiffusionPipeline
        from safetensors import safe_open
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".lora-", dir=path.parent) as tmp:
            StableDiffusionPipeline.save_lora_weights(tmp, weight_name="lora.safetensors", **self._lora_layers())
            written = Path(tmp) / "lora.safetensors"
            with safe_open(str(written), framework="pt") as f:
                header = dict(f.metadata() or {})
                tensors = {k: f.get_tensor(k) for k in f.keys()}
            header[METADATA_KEY] = json.dumps({**self.metadata, "step": step}, sort_keys=True, default=str)
            final = Path(tmp) / "final.safetensors"
            save_file(tensors, str(final), metadata=header)
            os.replace(final, path)

    def save_state(self, folder: Path, step: int) -> Path:
        """Save the optimizer, LR scheduler, RNG and LoRA state for :meth:`load_state` into
        ``folder/state-<step>`` (complete or absent: written aside and renamed); returns that folder."""
        target = folder / f"{STATE_PREFIX}{step:07d}"
        partial = folder / f".{STATE_PREFIX}{step:07d}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        with quiet_progress_bars(), _quiet_accelerate():
            self.accelerator.save_state(str(partial))
        (partial / _DONE_MARK).write_text(json.dumps({"step": step, "at": time.time()}), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
        return target

    def load_state(self, state: Path) -> int:
        """Restore what :meth:`save_state` wrote; returns the step it was saved at."""
        self.prepare()
        done = json.loads((state / _DONE_MARK).read_text(encoding="utf-8"))
        with quiet_progress_bars(), _quiet_accelerate():
            self.accelerator.load_state(str(state))
        return int(done["step"])


def latest_state(folder: Path) -> tuple[int, Path] | None:
    """The newest complete state folder under ``folder`` and its step (None when there is none)."""
    best = None
    if folder.is_dir():
        for child in folder.iterdir():
            if child.name.startswith(STATE_PREFIX) and (child / _DONE_MARK).is_file():
                try:
                    step = int(json.loads((child / _DONE_MARK).read_text(encoding="utf-8"))["step"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue
                if best is None or step > best[0]:
                    best = (step, child)
    return best


def prune_states(folder: Path, keep: int = 2) -> None:
    """Keep the ``keep`` newest state folders (each holds the optimizer state: twice the LoRA's size)."""
    states = sorted((c for c in folder.iterdir() if c.name.startswith(STATE_PREFIX)), key=lambda c: c.name)
    for old in states[:-keep] if keep else states:
        shutil.rmtree(old, ignore_errors=True)


def read_lora_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The ``imagen_nb`` metadata a trained LoRA file carries (``{}`` for other LoRA files)."""
    from ..weightfiles import read_safetensors_header

    header = read_safetensors_header(path)
    text = (header.get("__metadata__") or {}).get(METADATA_KEY)
    return json.loads(text) if text else {}


@contextlib.contextmanager
def _quiet_accelerate():
    """accelerate logs each file it saves or loads at INFO: a run's checkpoints would fill a cell."""
    import logging

    logger = logging.getLogger("accelerate.checkpointing")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


