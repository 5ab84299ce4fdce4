"""Batched, on-device versions of the torchvision transforms the page uses, with randomness drawn per image.

Each op follows torchvision's tensor semantics (same parameter distributions, same pixel arithmetic) but
draws its parameters for every image of the batch at once. torchvision's v2 transforms draw one set of
parameters per call (per batch), and kornia's ColorJitter draws one order per batch, so neither can stand
in for the page's per-image PIL pipeline.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from engine.experiments.spec import (
    Affine,
    Augmentation,
    ColorJitter,
    HFlip,
    Normalize,
    Rotation,
    VFlip,
)

Op = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def to_float(images: torch.Tensor) -> torch.Tensor:
    """ToTensor for a batch: uint8 NHWC or NCHW in [0, 255] -> float NCHW in [0, 1]."""
    if images.shape[-1] in (1, 3):  # NHWC: no set's images are 1 or 3 pixels wide
        images = images.permute(0, 3, 1, 2)
    return images.float().div_(255)


def chunk_images(device: torch.device) -> int:
    """About how many images to augment at once. On the CPU a chunk's floats (512 x 3 x 28 x 28, 4.8 MB) stay in
    the cache between the pipeline's ops: whole epochs of experiments 13 and 21 in bf16 ran 5-7 % faster with 512
    than with 256, as fast as with 1024 or 2048, and 10-20 % faster than with 64 (the augmentation alone: 18 us an
    image on two threads in chunks of 256, 36 batch by batch). A GPU gains from fewer, larger launches."""
    return 512 if device.type == "cpu" else 4096


def pipeline(specs: Sequence[Augmentation], channels: int = 3) -> Op:
    """One callable applying the ops in order to a float NCHW batch of `channels` (3, or 1 for a grey set: see
    for_grey)."""
    ops = [_build(spec if channels == 3 else for_grey(spec)) for spec in specs]

    def apply(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for op in ops:
            images = op(images, generator)
        return images

    return apply


def preview(specs: Sequence[Augmentation], images: torch.Tensor, draws: int,
            generator: torch.Generator) -> torch.Tensor:
    """`draws` passes of the train transform over uint8 images, made as training makes them (ToTensor, then the
    batched ops on one batch, randomness per image): draws x N x C x H x W floats."""
    batch = to_float(images).repeat(draws, 1, 1, 1)
    return pipeline(specs)(batch, generator).unflatten(0, (draws, len(images)))


def colour_ops(specs: Sequence[Augmentation]) -> bool:
    """Whether the pipeline changes saturation or hue, which grey images do not have."""
    return any(isinstance(spec, ColorJitter) and (spec.saturation or spec.hue) for spec in specs)


def for_grey(spec: Augmentation) -> Augmentation:
    """An op as it applies to one channel: colour jitter without saturation and hue, Normalize with the mean of
    its three means and of its three stds (the runs' notes say both)."""
    if isinstance(spec, ColorJitter):
        return spec.model_copy(update={"saturation": 0, "hue": 0})
    if isinstance(spec, Normalize):
        return spec.model_copy(update={"mean": (sum(spec.mean) / 3,), "std": (sum(spec.std) / 3,)})
    return spec


def _build(spec: Augmentation) -> Op:
    if isinstance(spec, HFlip):
        return lambda x, g: flip(x, _uniform(x, g, 0, 1) < spec.p, dim=-1)
    if isinstance(spec, VFlip):
        return lambda x, g: flip(x, _uniform(x, g, 0, 1) < spec.p, dim=-2)
    if isinstance(spec, Rotation):
        # torchvision's rotate passes -angle to the inverse-matrix helper; the draw is symmetric anyway.
        return lambda x, g: affine(x, angle=-_uniform(x, g, -spec.degrees, spec.degrees))
    if isinstance(spec, Affine):
        return lambda x, g: random_affine(x, g, spec)
    if isinstance(spec, ColorJitter):
        return lambda x, g: color_jitter(x, g, spec)
    if isinstance(spec, Normalize):
        return lambda x, g: normalize(x, spec.mean, spec.std)
    raise TypeError(f"no batched op for {spec!r}")


def _uniform(images: torch.Tensor, generator: torch.Generator, low: float, high: float) -> torch.Tensor:
    draw = torch.rand(images.shape[0], generator=generator, device=images.device)
    return draw * (high - low) + low


def flip(images: torch.Tensor, chosen: torch.Tensor, dim: int) -> torch.Tensor:
    return torch.where(chosen.view(-1, 1, 1, 1), images.flip(dim), images)


@functools.cache
def constant(values: tuple[float, ...], device: torch.device) -> torch.Tensor:
    """A small constant on the device, copied there once: a copy from the host for every batch would make the
    host wait for a GPU's queue each time."""
    return torch.tensor(values, device=device)


def normalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    mean_t, std_t = (constant(tuple(values), images.device).view(1, -1, 1, 1) for values in (mean, std))
    return (images - mean_t) / std_t


def random_affine(images: torch.Tensor, generator: torch.Generator, spec: Affine) -> torch.Tensor:
    angle, shift, scale = draw_affine(images, generator, spec)
    return affine(images, angle=angle, shift=shift, scale=scale)


def draw_affine(images: torch.Tensor, generator: torch.Generator,
                spec: Affine) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """RandomAffine.get_params for every image: angle, whole-pixel shift (x, y) and scale."""
    height, width = images.shape[-2:]
    angle = _uniform(images, generator, -spec.degrees, spec.degrees)
    max_dx, max_dy = spec.translate[0] * width, spec.translate[1] * height
    shift_x = torch.round(_uniform(images, generator, -max_dx, max_dx))
    shift_y = torch.round(_uniform(images, generator, -max_dy, max_dy))
    scale = _uniform(images, generator, spec.scale[0], spec.scale[1])
    return angle, (shift_x, shift_y), scale


def affine(images: torch.Tensor, angle: torch.Tensor, shift: tuple[torch.Tensor, torch.Tensor] | None = None,
           scale: torch.Tensor | None = None) -> torch.Tensor:
    """torchvision's tensor affine (centre of the image, nearest, fill 0) with one matrix per image."""
    batch, _, height, width = images.shape
    rad = angle * (math.pi / 180)
    scale = torch.ones_like(rad) if scale is None else scale
    tx, ty = (torch.zeros_like(rad), torch.zeros_like(rad)) if shift is None else shift
    # Inverse of T * R * S about the centre, as in torchvision's _get_inverse_affine_matrix without shear.
    cos, sin = torch.cos(rad) / scale, torch.sin(rad) / scale
    theta = torch.stack([cos, sin, -cos * tx - sin * ty, -sin, cos, sin * tx - cos * ty], -1).view(-1, 2, 3)
    # One matrix product for the whole batch, pixels x (image, x|y): a batched product of 3 x 2 matrices costs
    # ten times as much on the CPU.
    half = constant((0.5 * width, 0.5 * height), images.device)
    grid = _pixel_grid(height, width, images.device).mm(theta.flatten(0, 1).T).view(-1, batch, 2) / half
    return F.grid_sample(images, grid.transpose(0, 1).reshape(batch, height, width, 2), mode="nearest",
                         padding_mode="zeros", align_corners=False)


@functools.cache
def _pixel_grid(height: int, width: int, device: torch.device) -> torch.Tensor:
    """Every pixel's centre as (x, y, 1) about the image's centre, HW x 3: made once, not for every batch."""
    xs = torch.linspace(-width * 0.5 + 0.5, width * 0.5 - 0.5, width, device=device)
    ys = torch.linspace(-height * 0.5 + 0.5, height * 0.5 - 0.5, height, device=device)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], -1).view(-1, 3)


def rgb_to_grayscale(images: torch.Tensor) -> torch.Tensor:
    """torchvision's luma weights (its rgb_to_grayscale): importing torchvision for these three numbers would cost
    every small-CNN run about a second of start-up."""
    if images.shape[-3] == 1:  # a grey set's images are their own grey
        return images
    red, green, blue = images.unbind(dim=-3)
    return (0.2989 * red + 0.587 * green + 0.114 * blue).unsqueeze(dim=-3)


def adjust_hue(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """torchvision's adjust_hue (RGB -> HSV, shift H, back) in whole-tensor arithmetic: torchvision's own helpers
    take about 30 small ops each, and on the CPU `where` and `%` cost five to ten times a product, so the channel
    choices below are products with 0/1 masks and the wrap round the hue circle is a floor. Equal to torchvision
    within float rounding (the tests hold it to 1e-5)."""
    dtype = images.dtype
    value = images.amax(dim=-3, keepdim=True)
    chroma = value - images.amin(dim=-3, keepdim=True)
    red, green, blue = images.unbind(dim=-3)
    brightest, spread = value.squeeze(-3), chroma.squeeze(-3)
    # H in sixths x chroma from the brightest channel: g - b from red, 2c + b - r from green, 4c + r - g from blue.
    # Where two channels tie for brightest their formulas give the same hue (mod 6), so which one counts is moot.
    is_red = (red == brightest).to(dtype)
    is_green = (green == brightest).to(dtype) * (1 - is_red)
    from_blue = 4 * spread + red - green
    hue = from_blue + is_red * (green - blue - from_blue) + is_green * (2 * spread + blue - red - from_blue)
    sixths = hue / (spread + (spread == 0).to(dtype)) + 6.0 * factor.view(-1, 1, 1)
    # HSV -> RGB per channel n in (5, 3, 1) for R, G, B: v - chroma * clamp(2 - |k - 2|, 0, 1), k = (n + H) mod 6.
    # |k - 2| is taken round the circle, y - 3 with y = (n + H + 1) mod 6: where that differs from the plain
    # distance (over 3), both are over 2 and the ramp is 0 either way.
    y = constant((6.0, 4.0, 2.0), images.device).view(1, 3, 1, 1) + sixths.unsqueeze(-3)
    y = y.add_(torch.floor(y * (1 / 6)), alpha=-6.0)
    ramp = (2.0 - y.sub_(3.0).abs_()).clamp_(0.0, 1.0)
    return torch.addcmul(value, chroma, ramp, value=-1)


def color_jitter(images: torch.Tensor, generator: torch.Generator, spec: ColorJitter) -> torch.Tensor:
    """torchvision's ColorJitter: factors and the order of the four adjustments drawn for each image."""
    return apply_jitter(images, *draw_jitter(images, generator, spec))


def draw_jitter(images: torch.Tensor, generator: torch.Generator,
                spec: ColorJitter) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """ColorJitter.get_params for every image: a permutation of the 4 adjustments, and each one's factor
    (None for an adjustment the spec leaves at 0)."""
    order = torch.rand(images.shape[0], 4, generator=generator, device=images.device).argsort(dim=1)
    ranges = [(max(0.0, 1 - spec.brightness), 1 + spec.brightness) if spec.brightness else None,
              (max(0.0, 1 - spec.contrast), 1 + spec.contrast) if spec.contrast else None,
              (max(0.0, 1 - spec.saturation), 1 + spec.saturation) if spec.saturation else None,
              (-spec.hue, spec.hue) if spec.hue else None]
    return order, [_uniform(images, generator, *bounds) if bounds else None for bounds in ranges]


def apply_jitter(images: torch.Tensor, order: torch.Tensor, factors: list[torch.Tensor | None],
                 keep: Keep | None = None) -> torch.Tensor:
    """Each image gets each adjustment in use once, in its own order. Brightness, contrast and saturation are one
    blend, clamp(ratio * image + (1 - ratio) * other), towards black, the image's mean grey or its grey: each of
    the four steps does them as a single blend with every image's own ratio and target (ratio 1, no change, for
    an image whose step is hue or an adjustment not in use), a quarter of the ops of adjusting each in turn. Hue
    goes to the images whose step it is through `keep`: by default keep_indexed on the CPU, keep_where elsewhere
    (the two agree)."""
    keep = keep or (keep_indexed if images.device.type == "cpu" else keep_where)
    steps = order.T  # step x image: which adjustment
    unchanged = torch.ones_like(steps[0], dtype=images.dtype)
    ratios = torch.stack([unchanged if factor is None else factor for factor in factors[:3]] + [unchanged])
    ratios, to_mean, to_grey = (table.view(4, -1, 1, 1, 1) for table in
                                (ratios.gather(0, steps), (steps == 1).to(images.dtype), (steps == 2).to(images.dtype)))
    for step in range(4):
        grey = rgb_to_grayscale(images)
        target = torch.addcmul(grey.mean(dim=(-2, -1), keepdim=True) * to_mean[step], grey, to_grey[step])
        images = torch.lerp(target, images, ratios[step]).clamp_(0, 1)
        if factors[3] is not None:
            images = keep(images, steps[step] == 3, adjust_hue, factors[3])
    return images


Keep = Callable[[torch.Tensor, torch.Tensor, Callable, torch.Tensor], torch.Tensor]


def keep_indexed(images: torch.Tensor, chosen: torch.Tensor, adjust: Callable, factor: torch.Tensor) -> torch.Tensor:
    """Adjusts the chosen images only, in place: least work, but finding them (nonzero) waits for the device,
    which on a CPU costs nothing."""
    rows = chosen.nonzero().squeeze(1)
    return images.index_copy_(0, rows, adjust(images[rows], factor[rows])) if rows.numel() else images


def keep_where(images: torch.Tensor, chosen: torch.Tensor, adjust: Callable, factor: torch.Tensor) -> torch.Tensor:
    """Adjusts every image and keeps it where chosen: four times the arithmetic, which a GPU does sooner than it
    would answer which images are chosen."""
    return torch.where(chosen.view(-1, 1, 1, 1), adjust(images, factor), images)
