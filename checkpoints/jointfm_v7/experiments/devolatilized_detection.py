"""Inference-only probe: the harmonic path's statistic F from devolatilized increments
(each increment over its exponentially weighted volatility before it, half-life HL steps,
as for the context correlation), the extrapolation still from the raw fit.  The v7 gate
was trained on the raw statistic, so this only asks whether the false detections on the
families are volatility clustering.  Runs a benchmark script with the patch in place:

    python devolatilized_detection.py HL benchmarks/bench_sde_protocol.py ARGS...
    python devolatilized_detection.py HL benchmarks/select_checkpoint.py ARGS...
"""
import runpy
import sys

import torch

import jointdist.models.jointfm.harmonic as harmonic_module
from jointdist.models.jointfm.harmonic import harmonic_fit
from jointdist.models.jointfm.model import devolatilize

halflife = float(sys.argv[1])


def devolatilized_fit(z, time_mask, cycles, horizon):
    _, extrapolation = harmonic_fit(z, time_mask, cycles, horizon)
    zd = z.double()
    w = (time_mask[:, 1:] & time_mask[:, :-1]).double()
    std = devolatilize(zd[:, 1:] - zd[:, :-1], w, halflife)
    levels = torch.cat([torch.zeros_like(zd[:, :1]), std.cumsum(1)], dim=1)
    stat, _ = harmonic_fit(levels, time_mask, cycles, horizon)
    return stat, extrapolation


harmonic_module.harmonic_fit = devolatilized_fit  # HarmonicDrift calls it by this name
script, *args = sys.argv[2:]
sys.argv = [script, *args]
runpy.run_path(script, run_name="__main__")
