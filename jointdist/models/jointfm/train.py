"""Command line of JointFM pretraining.

``python -m jointdist.models.jointfm.train --config cfg.json [--out-dir DIR] [--steps N]``
trains (or resumes, if ``DIR/checkpoint_last.pt`` exists) on one process; launch it with
``torchrun --nproc_per_node=G -m jointdist.models.jointfm.train --config ...`` for
DistributedDataParallel on ``G`` GPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from jointdist.models.jointfm.training import TrainConfig, train


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jointdist.models.jointfm.train",
                                description="Pretrain JointFM on the SDE curriculum stream.")
    p.add_argument("--config", required=True, help="TrainConfig JSON file")
    p.add_argument("--out-dir", default=None, help="overrides out_dir of the config")
    p.add_argument("--steps", type=int, default=None, help="overrides steps of the config")
    p.add_argument("--device", default=None, help="overrides device (auto, cpu, cuda)")
    p.add_argument("--num-threads", type=int, default=None)
    p.add_argument("--max-seconds", type=float, default=None,
                   help="stop (with a checkpoint) after this much wall time")
    p.add_argument("--no-resume", action="store_true",
                   help="start afresh even if out_dir holds a checkpoint")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    try:
        cfg = TrainConfig.from_json(args.config, out_dir=args.out_dir, steps=args.steps,
                                    device=args.device, num_threads=args.num_threads)
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = train(cfg, resume=not args.no_resume, progress=not args.no_progress,
                   max_seconds=args.max_seconds)
    if int(os.environ.get("RANK", "0")) == 0:  # one summary line under torchrun
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
