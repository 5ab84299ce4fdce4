"""Batched augmentation against torchvision applied image by image: same parameters give the same pixels,
and every image of a batch draws its own parameters from torchvision's distributions."""

import itertools

import pytest
import torch
import torchvision.transforms.functional as TF
from torchvision.transforms import InterpolationMode

from engine.experiments.spec import Affine, ColorJitter, HFlip, Normalize, Rotation
from engine.training import augment

NEAREST = InterpolationMode.NEAREST
TORCHVISION_JITTER = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)


@pytest.fixture
def images():
    return torch.rand(64, 3, 28, 28, generator=torch.Generator().manual_seed(1))


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


def test_to_float_is_totensor_for_a_batch():
    batch = torch.randint(0, 256, (4, 28, 28, 3), dtype=torch.uint8)
    expected = torch.stack([TF.to_tensor(image.numpy()) for image in batch])
    assert torch.equal(augment.to_float(batch), expected)


def test_rotation_matches_torchvision_pixel_for_pixel(images):
    angles = torch.linspace(-20, 20, len(images))
    ours = augment.affine(images, angle=-angles)
    for image, angle, mine in zip(images, angles, ours):
        assert torch.equal(mine, TF.rotate(image, float(angle), interpolation=NEAREST, fill=0))


def test_affine_matches_torchvision_pixel_for_pixel(images):
    spec = Affine(op="affine", degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))
    angle, (dx, dy), scale = augment.draw_affine(images, generator(), spec)
    ours = augment.affine(images, angle=angle, shift=(dx, dy), scale=scale)
    for i, image in enumerate(images):
        reference = TF.affine(image, float(angle[i]), [int(dx[i]), int(dy[i])], float(scale[i]), [0.0, 0.0],
                              interpolation=NEAREST, fill=0)
        assert torch.equal(ours[i], reference)


def test_each_colour_adjustment_matches_torchvision(images):
    factors = torch.linspace(0.8, 1.2, len(images))
    hues = torch.linspace(-0.05, 0.05, len(images))
    order = torch.arange(4).repeat(len(images), 1)
    for which, theirs in enumerate(TORCHVISION_JITTER):
        amount = hues if which == 3 else factors
        batch = augment.apply_jitter(images, order, [amount if i == which else None for i in range(4)])
        tolerance = 1e-5 if which == 3 else 1e-6  # one blend for three adjustments, hue in fewer ops: float rounding
        for i, image in enumerate(images):
            torch.testing.assert_close(batch[i], theirs(image, float(amount[i])), atol=tolerance, rtol=0)


def test_hue_of_greys_and_saturated_edges_matches_torchvision():
    edges = torch.tensor([[0.5, 0.5, 0.5], [1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 1], [0, 0, 0], [1, 1, 1],
                          [0.2, 0.9, 0.9]])
    images = edges.view(-1, 3, 1, 1).expand(-1, 3, 2, 2).contiguous()
    for shift in (-0.5, -0.05, 0.0, 0.05, 0.5):
        ours = augment.adjust_hue(images, torch.full((len(images),), shift))
        theirs = torch.stack([TF.adjust_hue(image, shift) for image in images])
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_hue_over_its_whole_range_matches_torchvision(images):
    """Shifts up to half the circle, both ways, carry hues past red in either direction."""
    shifts = torch.linspace(-0.5, 0.5, len(images))
    ours = augment.adjust_hue(images, shifts)
    for i, image in enumerate(images):
        torch.testing.assert_close(ours[i], TF.adjust_hue(image, float(shifts[i])), atol=1e-5, rtol=0)


@pytest.mark.parametrize("keep", [augment.keep_indexed, augment.keep_where], ids=["indexed (CPU)", "where (GPU)"])
def test_colour_jitter_applies_each_images_own_order(images, keep):
    spec = ColorJitter(op="color_jitter", brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05)
    order, factors = augment.draw_jitter(images, generator(), spec)
    batch = augment.apply_jitter(images, order, factors, keep)
    for i, image in enumerate(images):
        for which in order[i].tolist():
            image = TORCHVISION_JITTER[which](image, float(factors[which][i]))
        torch.testing.assert_close(batch[i], image, atol=1e-5, rtol=0)


def test_colour_jitter_draws_order_and_factors_per_image():
    many = torch.zeros(24_000, 3, 2, 2)
    spec = ColorJitter(op="color_jitter", brightness=0.2, contrast=0.0, saturation=0.2, hue=0.05)
    order, factors = augment.draw_jitter(many, generator(), spec)
    counts = dict.fromkeys(itertools.permutations(range(4)), 0)
    for row in order.tolist():
        counts[tuple(row)] += 1
    assert min(counts.values()) > 800 and max(counts.values()) < 1200  # 24 orders, about 1000 each
    assert factors[1] is None  # contrast 0: torchvision skips it
    for factor, (low, high) in [(factors[0], (0.8, 1.2)), (factors[2], (0.8, 1.2)), (factors[3], (-0.05, 0.05))]:
        assert low <= factor.min() and factor.max() <= high
        assert factor.mean() == pytest.approx((low + high) / 2, abs=0.005)
        assert factor.std() == pytest.approx((high - low) / 12 ** 0.5, rel=0.03)  # uniform


def test_rotation_angles_are_drawn_per_image_uniformly():
    # A single bright pixel off-centre: its position after rotation reveals each image's angle.
    dot = torch.zeros(4000, 1, 28, 28)
    dot[:, :, 4, 14] = 1
    rotated = augment.pipeline([Rotation(op="rotation", degrees=15)])(dot, generator())[:, 0]
    visible = rotated.flatten(1).amax(1) > 0  # nearest sampling may skip the single pixel now and then
    assert visible.float().mean() > 0.8
    columns = (rotated[visible].flatten(1).argmax(1) % 28).float()
    assert len(columns.unique()) >= 5  # many different angles within one batch
    assert columns.mean() == pytest.approx(14, abs=0.3)  # symmetric about 0 degrees
    assert columns.min() >= 14 - 3 and columns.max() <= 14 + 3  # |angle| <= 15: |dx| <= 9.5 * sin(15) ~ 2.5


def test_flips_happen_to_about_half_the_images_independently(images):
    batch = images.repeat(100, 1, 1, 1)
    flipped = augment.pipeline([HFlip(op="hflip", p=0.5)])(batch, generator())
    is_flipped = (flipped == batch.flip(-1)).flatten(1).all(1)
    unchanged = (flipped == batch).flatten(1).all(1)
    assert (is_flipped | unchanged).all()
    assert is_flipped.float().mean() == pytest.approx(0.5, abs=0.03)


def test_normalize_matches_torchvision(images):
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    batch = augment.pipeline([Normalize(op="normalize", mean=mean, std=std)])(images, generator())
    torch.testing.assert_close(batch, TF.normalize(images, mean, std))


def test_same_seed_same_augmentation(images):
    specs = [HFlip(op="hflip"), Rotation(op="rotation", degrees=20),
             ColorJitter(op="color_jitter", brightness=0.2, hue=0.05)]
    run = augment.pipeline(specs)
    assert torch.equal(run(images, generator(7)), run(images, generator(7)))
    assert not torch.equal(run(images, generator(7)), run(images, generator(8)))
