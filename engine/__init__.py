"""dermalab's engine, without any user interface. Its layers import downwards only:

- `analysis`: pure numerics over val predictions (metrics, bootstrap intervals, screening, lesions); reads no store.
- `experiments`: experiments.toml as validated specs (spec, load, architecture arithmetic).
- `training`: one run on one device (data and its download, batched augmentation, models, run options, the loop).
- `store`: the SQLite run store (its schema and upgrades, blobs) and the readers that summarise stored runs.
- `jobs`: the queue in the store, the worker and its slots, the runner, GPUs, estimates and the Slurm path.

At the top, what every layer may use: `errors`, `paths`, `events`, `classes`, `status` (how a run or job stands),
`processes` and `threads` (how many CPU threads a run trains with, and how OpenMP's threads wait).
"""

import os
import sys

from engine.threads import openmp_environment

openmp_environment()  # before anything imports torch: OpenMP reads its environment only as torch loads it
if sys.platform == "darwin":  # as torch loads, too: an op MPS lacks runs on the CPU, said in the run's notes
    os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")  # (engine.training.device.MPS_FALLBACK)
