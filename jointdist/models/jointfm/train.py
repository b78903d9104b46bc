"""Command line of JointFM pretraining.

``python -m jointdist.models.jointfm.train --config cfg.json [--out-dir DIR] [--steps N]
[--set model.d_model=256 --set batch_size=64] [--max-seconds S]`` trains (or resumes, if
``DIR/checkpoint_last.pt`` exists) on one process; launch it with
``torchrun --nproc_per_node=G -m jointdist.models.jointfm.train --config ...`` for
DistributedDataParallel on ``G`` GPUs.  ``--config`` also takes the name of a shipped
configuration (``default``, ``dependence``, ``large``; ``jointdist/models/jointfm/configs/``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from jointdist.models.jointfm.training import TrainConfig, train

#: The shipped training configurations.
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def resolve_config(name_or_path) -> Path:
    """A config file path, or the shipped ``configs/<name>.json`` for a bare name."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.json"
    if path.suffix != ".json" and len(path.parts) == 1 and shipped.is_file():
        return shipped
    names = sorted(p.stem for p in CONFIG_DIR.glob("*.json"))
    raise FileNotFoundError(f"training config file {path} does not exist (shipped "
                            f"configurations: {', '.join(names)}).")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="jointdist-pretrain-jointfm",
                                description="Pretrain JointFM on the SDE curriculum stream.")
    p.add_argument("--config", required=True,
                   help="TrainConfig JSON file, or a shipped one by name (default, large)")
    p.add_argument("--set", dest="assignments", action="append", default=[],
                   metavar="KEY=VALUE",
                   help="override a setting, repeatable: a TrainConfig field (batch_size=64, "
                        "n_futures=128) or model.<field> (model.d_model=256); values as JSON")
    p.add_argument("--out-dir", default=None, help="overrides out_dir of the config")
    p.add_argument("--steps", type=int, default=None, help="overrides steps of the config")
    p.add_argument("--device", default=None, help="overrides device (auto, cpu, cuda)")
    p.add_argument("--num-threads", type=int, default=None)
    p.add_argument("--max-seconds", type=float, default=None,
                   help="time budget of the run (summed over resumes): the cosine schedule "
                        "and the curriculum run over it and the run ends when it is spent")
    p.add_argument("--stop-after", type=float, default=None, metavar="SECONDS",
                   help="stop this call with a checkpoint after this much wall time, "
                        "schedule unchanged (rerun the command to resume)")
    p.add_argument("--no-resume", action="store_true",
                   help="start afresh even if out_dir holds a checkpoint")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    try:
        cfg = TrainConfig.from_json(resolve_config(args.config), assignments=args.assignments,
                                    out_dir=args.out_dir, steps=args.steps,
                                    device=args.device, num_threads=args.num_threads)
        if args.max_seconds is not None and not args.max_seconds > 0:
            raise ValueError(f"--max-seconds must be > 0; got {args.max_seconds}.")
        if args.stop_after is not None and not args.stop_after >= 0:
            raise ValueError(f"--stop-after must be >= 0; got {args.stop_after}.")
    except (FileNotFoundError, ValueError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = train(cfg, resume=not args.no_resume, progress=not args.no_progress,
                   max_seconds=args.max_seconds, stop_after=args.stop_after)
    if int(os.environ.get("RANK", "0")) == 0:  # one summary line under torchrun
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
