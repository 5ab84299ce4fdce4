"""The slots a worker trains in at once (--jobs, --gpus, --per-gpu): which GPU each child may see, and how many CPU
threads it takes (engine.threads decides, --threads overrides). Handed out once, by the worker, never guessed by the
children; free of torch."""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import UserError
from engine.threads import cores_allowed, threads_per_run


@dataclass(frozen=True)
class Slot:
    """Where one child trains: `name` as the queue shows it, the GPU it alone sees (None: the CPU), its threads."""

    name: str
    gpu: str | None
    threads: int
    fixed: bool = False  # --threads N: exactly `threads`, whatever else the machine runs


@dataclass(frozen=True)
class SlotRequest:
    """What the user asked for on the command line; None: the default."""

    jobs: int | None = None
    gpus: str | None = None  # "0,2": which GPUs, by the names CUDA_VISIBLE_DEVICES takes
    per_gpu: int | None = None
    threads: int | None = None  # CPU threads per run; None: engine.threads shares out the cores

    def arguments(self) -> list[str]:
        """The same request as `dermalab worker` options."""
        given = {"--jobs": self.jobs, "--gpus": self.gpus, "--per-gpu": self.per_gpu, "--threads": self.threads}
        return [word for option, value in given.items() if value is not None for word in (option, str(value))]

    def asked(self) -> bool:
        return self != SlotRequest()

    def shares_out(self) -> bool:
        """Whether several runs may train at once (--threads alone sets how one run trains)."""
        return (self.jobs, self.gpus, self.per_gpu) != (None, None, None)


def hand_out(request: SlotRequest, gpus: list[str], cores: int, device: str = "auto") -> list[Slot]:
    """The slots for `request` on a machine with these GPUs and cores. With GPUs (and a device that may use them),
    one job per GPU by default, `per_gpu` on each, or `jobs` spread over them in turn; on the CPU, `jobs` (default
    1) share the cores evenly."""
    check(request)
    if request.gpus is not None or request.per_gpu is not None:
        if not gpus:
            option = "--gpus" if request.gpus is not None else "--per-gpu"
            raise UserError(f"{option}: this machine has no NVIDIA GPU that CUDA may use; leave it out to train "
                            "on the CPU, with --jobs N for several runs at once.")
        if device == "cpu":
            raise UserError("--gpus and --per-gpu hand out GPUs, but --device cpu keeps every run on the CPU; "
                            "leave out one or the other.")
    if gpus and device in ("auto", "cuda"):
        return gpu_slots(request, chosen_gpus(request.gpus, gpus), cores)
    count = request.jobs or 1
    return [Slot(f"cpu {number}" if count > 1 else "cpu", None, threads_per_run(count, request.threads, cores),
                 request.threads is not None) for number in range(1, count + 1)]


def check(request: SlotRequest) -> None:
    for option, value in (("--jobs", request.jobs), ("--per-gpu", request.per_gpu), ("--threads", request.threads)):
        if value is not None and value < 1:
            raise UserError(f"{option} {value}: give at least 1.")
    if request.jobs is not None and request.per_gpu is not None:
        raise UserError("--jobs and --per-gpu both set how many runs train at once; give one of them.")


def chosen_gpus(asked: str | None, gpus: list[str]) -> list[str]:
    if asked is None:
        return gpus
    chosen = [name.strip() for name in asked.split(",")]
    unknown = [name for name in chosen if name not in gpus]
    if unknown or not all(chosen) or len(set(chosen)) < len(chosen):
        raise UserError(f"--gpus {asked}: name each GPU once, out of {', '.join(gpus)} (as nvidia-smi numbers them, "
                        f"or as CUDA_VISIBLE_DEVICES lists them), e.g. --gpus {','.join(gpus[:2])}.")
    return chosen


def gpu_slots(request: SlotRequest, chosen: list[str], cores: int) -> list[Slot]:
    count = request.jobs or len(chosen) * (request.per_gpu or 1)
    gpu_of = [chosen[number % len(chosen)] for number in range(count)]  # in turn: 0, 2, 0, 2, ...
    shared = count > len(chosen)
    return [Slot(f"gpu {gpu} #{gpu_of[:number + 1].count(gpu)}" if shared else f"gpu {gpu}", gpu,
                 threads_per_run(count, request.threads, cores), request.threads is not None)
            for number, gpu in enumerate(gpu_of)]


def machine_slots(request: SlotRequest, device: str = "auto") -> list[Slot]:
    """The slots on this machine: its NVIDIA GPUs (by NVML, without touching CUDA) and the cores it may use."""
    from engine.jobs import gpus

    if device.startswith("cuda:") and (request.gpus is not None or request.per_gpu is not None or request.jobs):
        raise UserError(f"--device {device} names one GPU, while --jobs, --gpus and --per-gpu hand GPUs out; use "
                        f"--gpus {device.removeprefix('cuda:')} instead.")
    return hand_out(request, gpus.visible() if device != "mps" else [], cores_allowed(), device)
