"""The classes of each 2D MedMNIST set a run may train on, and the set itself as medmnist's own INFO describes it
(classes, channels, splits, task, URL and MD5 per size), with the critical classes the lab's clinical columns follow
on each. DermaMNIST's seven lesion classes, in the order of its labels, and which of them are cancers, come first:
the page is about them.

INFO is read from medmnist's info.py on its own, without the package: importing `medmnist` imports torch, and the
names, sizes and classes are wanted by processes that never train (option checks, and the app, whose first frame is
free of both, reads them only when a set is named)."""

from __future__ import annotations

import ast
import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import UserError

CLASSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")
CANCER_CLASSES = ("akiec", "bcc", "mel")
MEL = CLASSES.index("mel")  # the class the page's punchline is about

DEFAULT = "dermamnist"
DEFAULT_SIZE = 28
SIZES = (28, 64, 128, 224)  # MedMNIST's 28x28 originals and MedMNIST+'s larger copies
TRAINABLE_TASKS = ("multi-class", "binary-class", "ordinal-regression")
# The task MedMNIST's evaluator scores ordinal-regression as: argmax accuracy and one-vs-rest AUC, as multi-class.
ORDINAL_NOTE = "ordinal grades trained and scored as classes (cross-entropy, one-vs-rest AUC), as MedMNIST's own"


@dataclass(frozen=True)
class Critical:
    """The classes whose miss is the clinical harm on a set: `focus` takes the page's melanoma-recall column,
    `group` its cancer-sensitivity column (the mean recall over the group), each by class name."""

    focus: str
    group: tuple[str, ...]
    reason: str
    source: str
    titles: tuple[str, str]  # the two columns' titles in a table, as short as DermaMNIST's "mel rec" and "cancer"


# Declared by hand, each with why and where from; a set not here has no critical class, and shows no such column.
CRITICAL: dict[str, Critical] = {
    "dermamnist": Critical(
        "mel", CANCER_CLASSES, "melanoma kills; actinic keratoses/intraepithelial carcinoma, basal cell carcinoma "
        "and melanoma are the malignant classes", "the course page (clinicalai.guide, Module 6); Tschandl et al. "
        "2018, the HAM10000 dataset, Sci Data 5:180161", ("mel rec", "cancer")),
    "pneumoniamnist": Critical(
        "pneumonia", ("pneumonia",), "a missed pneumonia goes untreated",
        "Kermany et al. 2018, Cell 172(5):1122-1131", ("pneu rec", "pneu")),
    "breastmnist": Critical(
        "malignant", ("malignant",), "a missed malignant tumour delays cancer treatment",
        "Al-Dhabyani et al. 2020, Data in Brief 28:104863 (BUSI)", ("mal rec", "malig")),
    "pathmnist": Critical(
        "colorectal adenocarcinoma epithelium", ("colorectal adenocarcinoma epithelium",),
        "the tumour tissue class; missing it under-reports cancer", "Kather et al. 2019, PLOS Med 16(1):e1002730",
        ("TUM rec", "TUM")),  # TUM: the set's own abbreviation of the class (NCT-CRC-HE-100K)
    "octmnist": Critical(
        "choroidal neovascularization", ("choroidal neovascularization", "diabetic macular edema"),
        "both need treatment (anti-VEGF) and urgent referral; neovascularization loses sight fastest",
        "Kermany et al. 2018, Cell 172(5):1122-1131", ("CNV rec", "CNV+DME")),
    "retinamnist": Critical(
        "4", ("2", "3", "4"), "grade 2 and worse is referable diabetic retinopathy; grade 4 (proliferative) "
        "threatens sight", "Gulshan et al. 2016, JAMA 316(22):2402-2410 (referable DR: moderate or worse)",
        ("gr4 rec", "gr 2-4")),
}


@dataclass(frozen=True)
class MedSet:
    """One set at one size, as a run trains on it."""

    name: str  # medmnist's flag: 'dermamnist'
    size: int
    task: str
    channels: int
    classes: tuple[str, ...]  # by label; DermaMNIST keeps the lab's short names (akiec, ...)
    splits: dict[str, int]  # the real set's images per split (at every size)

    @property
    def default(self) -> bool:
        return self.name == DEFAULT and self.size == DEFAULT_SIZE

    @property
    def file_name(self) -> str:
        """medmnist's own: dermamnist.npz at 28, dermamnist_64.npz at 64."""
        return f"{self.name}.npz" if self.size == DEFAULT_SIZE else f"{self.name}_{self.size}.npz"

    @property
    def label(self) -> str:
        return label(self.name, self.size)

    def source(self) -> tuple[str, str]:
        """The URL medmnist downloads this set at this size from, and its MD5."""
        record = info()[self.name]
        suffix = "" if self.size == DEFAULT_SIZE else f"_{self.size}"
        return record[f"url{suffix}"], record[f"MD5{suffix}"]

    @property
    def critical(self) -> Critical | None:
        return CRITICAL.get(self.name)

    def index(self, name: str) -> int:
        return self.classes.index(name)

    @property
    def focus(self) -> int | None:
        """The label of the critical class the melanoma-recall column follows; None where the set declares none."""
        return None if self.critical is None else self.index(self.critical.focus)

    @property
    def sided(self) -> bool:
        """Whether some classes differ by side alone (OrganMNIST's kidney-left and kidney-right): a mirrored image
        of one is the other's, under the wrong label."""
        return any(name.endswith(("-left", "-right")) for name in self.classes)


@functools.cache
def info() -> dict[str, dict[str, Any]]:
    """medmnist.INFO, read from its info.py alone as the literal it is: running that file would make ~/.medmnist
    (its DEFAULT_ROOT), and the first paint and the reading commands leave the user's files alone."""
    spec = importlib.util.find_spec("medmnist")
    if spec is None or spec.origin is None:
        raise UserError("medmnist is not installed, and it names the MedMNIST sets; install dermalab again "
                        "(pip install -e .).")
    path = Path(spec.origin).with_name("info.py")
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "INFO" for t in node.targets):
            return dict(ast.literal_eval(node.value))
    raise AssertionError(f"{path} assigns INFO")


def names() -> list[str]:
    """The 2D sets, in INFO's order (the 3D ones end in '3d' and have no 2D images)."""
    return [name for name in info() if not name.endswith("3d")]


def check_name(name: str, flag: str = "--dataset") -> str:
    """A --dataset value: a 2D MedMNIST set that the lab trains faithfully."""
    if name not in names():
        raise UserError(f"{flag} {name}: unknown dataset; use one of {', '.join(names())}.")
    task = info()[name]["task"]
    if task not in TRAINABLE_TASKS:
        raise UserError(f"{flag} {name}: a {task} set (several findings per image) needs a sigmoid per label, "
                        "a binary cross-entropy loss and per-label AUC, which dermalab does not train yet; choose a "
                        "single-label set.")
    return name


def check_size(size: int) -> int:
    if size not in SIZES:
        raise UserError(f"--size {size}: MedMNIST has no such size; use {', '.join(map(str, SIZES))}.")
    return size


def label(name: str, size: int) -> str:
    """How runs and screens name a set at a size: 'dermamnist', 'pathmnist 64'."""
    return name if size == DEFAULT_SIZE else f"{name} {size}"


def name_in(config: dict[str, Any], dataset: str, size: int) -> dict[str, Any]:
    """A run config with the set and size it trains on: another set or size makes another run, while DermaMNIST at
    28 is left out, so that its runs keep the hashes they had before sets could be chosen."""
    if (dataset, size) != (DEFAULT, DEFAULT_SIZE):
        config["data"] = {"dataset": dataset, "size": size}
    return config


def medset(name: str = DEFAULT, size: int = DEFAULT_SIZE) -> MedSet:
    """The set `name` at `size`, checked (UserError for an unknown or untrainable one)."""
    record = info()[check_name(name)]
    return MedSet(name, check_size(size), record["task"], record["n_channels"], class_names(name),
                  dict(record["n_samples"]))


@functools.cache
def class_names(name: str) -> tuple[str, ...]:
    """A set's classes by label, unchecked (a stored run's set): DermaMNIST's without reading INFO, so that views of
    its runs read no more than before sets could be chosen. A set the installed medmnist does not list has its labels
    for names ("0", "1", ...), as many as the set with the most classes has, so that its runs are still shown."""
    if name == DEFAULT:
        return CLASSES
    if name not in info():
        return tuple(str(label) for label in range(max(len(record["label"]) for record in info().values())))
    labels = info()[name]["label"]
    return tuple(labels[str(i)] for i in range(len(labels)))
