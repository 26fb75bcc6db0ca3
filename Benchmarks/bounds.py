"""The hardware bound of a benchmark row, from our binary: `pipeline bench peak` (the system OpenBLAS's sgemm
GFLOP/s and the read bandwidth, measured now) and `pipeline bench bound` (the row's FLOPs and bytes, Core/Cost.swift).
Shared by bench_train.py, bench_grpo.py and bench_embed.py."""
import json
import subprocess


def peak(bin_path, threads):
    """{"kernel", "sgemm_gflops", "read_gbs", ...} as `pipeline bench peak` measures them."""
    out = subprocess.run([bin_path, "bench", "peak", "--threads", str(threads)], check=True, capture_output=True,
                         text=True)
    return json.loads(out.stdout)


def bound(bin_path, p, shape, *args):
    """{"flops", "bytes", "bound_seconds", "limit"} of one row (`pipeline bench bound --shape SHAPE ARGS…`)."""
    out = subprocess.run([bin_path, "bench", "bound", "--shape", shape, "--gflops", str(p["sgemm_gflops"]),
                          "--gbs", str(p["read_gbs"]), *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)
