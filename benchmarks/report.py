"""benchmarks/report.py -- reads the "RESULT key=value ..." lines that the benchmarks print (stdin)
and prints the comparison tables. For PyTorch and libtorch, every thread configuration was measured
and the table compares against the fastest one (never the slower).

The GPU benchmarks (gpu_ops, gpu_models and their PyTorch twins, run by scripts/gpu-check.sh) get
tables of their own, one set per device. `report.py --summary` prints only the GPU targets, one line
each (met / MISSED), for the summary at the end of scripts/gpu-check.sh.
"""
import sys
from collections import defaultdict


def parse(lines):
    rows = []
    for line in lines:
        if line.startswith("RESULT "):
            rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
    return rows


def gemm_table(rows):
    gemm = [r for r in rows if r["bench"] == "gemm"]
    if not gemm:
        return
    val = defaultdict(dict)      # (threads, n) -> impl -> (gflops, config): the fastest configuration
    for r in gemm:
        key, g = (int(r["threads"]), int(r["n"])), float(r["gflops"])
        if g > val[key].get(r["impl"], (-1,))[0]:
            val[key][r["impl"]] = (g, r.get("config", "-"))
    print("gemm, float32 n x n, GFLOP/s (median); each column is its fastest thread configuration")
    hdr = (f"{'threads':>7} {'n':>5} {'attograd':>9} {'cblas':>9} {'torch':>9} {'atto/cblas':>10} {'atto/torch':>10}"
           "  configs (attograd, cblas, torch)")
    print(hdr)
    print("-" * len(hdr))
    for key in sorted(val):
        v = val[key]
        a, d, t = (v.get(i, (None, "-")) for i in ("attograd", "direct", "torch"))
        f = lambda x: f"{x:9.1f}" if x is not None else f"{'-':>9}"
        r = lambda x, y: f"{x / y:10.2f}" if x is not None and y else f"{'-':>10}"
        print(f"{key[0]:>7} {key[1]:>5} {f(a[0])} {f(d[0])} {f(t[0])} {r(a[0], d[0])} {r(a[0], t[0])}"
              f"  {a[1]}, {d[1]}, {t[1]}")
    ns = sorted({n for _, n in val})
    speed = [f"n={n}: {val[(2, n)]['attograd'][0] / val[(1, n)]['attograd'][0]:.2f}x" for n in ns
             if "attograd" in val.get((1, n), {}) and "attograd" in val.get((2, n), {})]
    if speed:
        print("attograd 2 threads vs 1:  " + "  ".join(speed))
    print()


def overhead_table(rows):
    ov = [r for r in rows if r["bench"] == "overhead"]
    if not ov:
        return
    best = {}   # impl -> (wall us, cpu us, config), the configuration with the lowest wall time
    for r in ov:
        us, cpu = float(r["us_per_op"]), float(r.get("cpu_us_per_op", "nan"))
        if r["impl"] not in best or us < best[r["impl"]][0]:
            best[r["impl"]] = (us, cpu, r.get("config", "-"))
    print("per-op overhead: 64-element float32 chain of 1,500 ops + backward, microseconds per op (median)")
    print("(wall = elapsed time; cpu = the thread's CPU time, robust to a busy machine)")
    a = best.get("attograd")
    print(f"{'impl':>10} {'wall us':>8} {'cpu us':>8} {'wall x':>7} {'cpu x':>7}  config")
    for impl in ["attograd", "torch", "libtorch"]:
        if impl in best:
            us, cpu, c = best[impl]
            print(f"{impl:>10} {us:8.3f} {cpu:8.3f} {us / a[0]:7.2f} {cpu / a[1]:7.2f}  {c}")
    for impl, factor, label in [("torch", 5, "PyTorch (Python)"), ("libtorch", 4, "libtorch")]:
        if a and impl in best:
            w = "met" if a[0] * factor <= best[impl][0] else "MISSED"
            c = "met" if a[1] * factor <= best[impl][1] else "MISSED"
            print(f"target attograd <= 1/{factor} of {label}: wall {w}, cpu {c}")
    print()


def models_table(rows):
    ms = [r for r in rows if r["bench"] == "models"]
    if not ms:
        return
    best = {}   # (model, impl) -> the row of its fastest configuration (lowest median step time)
    for r in ms:
        key = (r["model"], r["impl"])
        if key not in best or float(r["ms"]) < float(best[key]["ms"]):
            best[key] = r
    print("training steps of small models, milliseconds per step (median); each column is its fastest")
    print("thread configuration; ratio = attograd / PyTorch (target <= 0.7); peak RSS of each process")
    hdr = (f"{'model':>10} {'attograd ms':>11} {'torch ms':>9} {'ratio':>6} {'atto MB':>8} {'torch MB':>8}"
           "  configs (attograd, torch: threads/config)")
    print(hdr)
    print("-" * len(hdr))
    for model in ["lstm", "mha", "gpt", "sentiment"]:
        a, t = best.get((model, "attograd")), best.get((model, "torch"))
        if not a:
            continue
        am = float(a["ms"])
        tm = float(t["ms"]) if t else None
        ratio = f"{am / tm:6.2f}" if tm else f"{'-':>6}"
        cfg = lambda r: f"{r['threads']}/{r['config']}" if r else "-"
        print(f"{model:>10} {am:11.1f} {tm if tm else float('nan'):9.1f} {ratio} {float(a['peak_rss_mb']):8.1f} "
              f"{float(t['peak_rss_mb']) if t else float('nan'):8.1f}  {cfg(a)}, {cfg(t)}")
    # With one thread, CPU time is the work itself, whatever else runs on the machine (the lowest over
    # the rounds: interference only ever adds).
    one = {}
    for r in ms:
        if r["threads"] == "1" and "cpu_ms" in r:
            key = (r["model"], r["impl"])
            if key not in one or float(r["cpu_ms"]) < float(one[key]["cpu_ms"]):
                one[key] = r
    if any(impl == "attograd" for _, impl in one):
        print("1 thread, CPU time per step (robust to a busy machine):")
        print(f"{'model':>10} {'attograd ms':>11} {'torch ms':>9} {'ratio':>6}")
        for model in ["lstm", "mha", "gpt", "sentiment"]:
            a, t = one.get((model, "attograd")), one.get((model, "torch"))
            if a and t:
                ac, tc = float(a["cpu_ms"]), float(t["cpu_ms"])
                print(f"{model:>10} {ac:11.1f} {tc:9.1f} {ac / tc:6.2f}")
    print()


# ---- GPU ----------------------------------------------------------------------------------------------
GEMM_TARGET = 0.95       # attograd GFLOP/s / PyTorch GFLOP/s, mm and bmm
BANDWIDTH_TARGET = 0.8   # a row op's bandwidth / the copy bandwidth (the floor)
MODELS = ["lstm", "mha", "gpt"]


def by_device(rows, bench):
    out = defaultdict(list)
    for r in rows:
        if r["bench"] == bench:
            out[r.get("device", "-")].append(r)
    return out


def fastest(rows, key, value, higher=True):
    """key(row) -> the row with the best `value` (several runs of a program may be in the input)."""
    best = {}
    for r in rows:
        k = key(r)
        if k not in best or (float(r[value]) > float(best[k][value])) == higher:
            best[k] = r
    return best


def met(value, target):
    """met / MISSED against a lower bound; "-" when a side has no result."""
    if value is None:
        return "-"
    return "met" if value >= target else "MISSED"


def gpu_gemm_results(rows):
    """device -> [(op, n, batch, m, atto gflops, torch gflops, ratio, check)]"""
    out = {}
    for device, rs in by_device(rows, "gpu_gemm").items():
        best = fastest(rs, lambda r: (r["op"], int(r["n"]), r["impl"]), "gflops")
        keys = sorted({(op, n) for op, n, _ in best}, key=lambda k: (k[0] != "mm", k[1]))
        table = []
        for op, n in keys:
            a, t = best.get((op, n, "attograd")), best.get((op, n, "torch"))
            any_row = a or t
            ag, tg = (float(a["gflops"]) if a else None), (float(t["gflops"]) if t else None)
            ratio = ag / tg if ag is not None and tg else None
            table.append((op, n, any_row["batch"], any_row["m"], ag, tg, ratio, a["check"] if a else "-"))
        out[device] = table
    return out


def copy_floor(rows):
    """device -> (attograd GB/s or None, torch GB/s or None, floor = the larger)"""
    out = {}
    for device, rs in by_device(rows, "gpu_copy").items():
        best = fastest(rs, lambda r: r["impl"], "gbps")
        a = float(best["attograd"]["gbps"]) if "attograd" in best else None
        t = float(best["torch"]["gbps"]) if "torch" in best else None
        out[device] = (a, t, max(x for x in (a, t) if x is not None))
    return out


def gpu_rows_results(rows):
    """device -> [(op, pass, atto GB/s, torch GB/s, atto fraction, torch fraction, torch ms / atto ms, check)]"""
    floors = copy_floor(rows)
    out = {}
    for device, rs in by_device(rows, "gpu_rows").items():
        floor = floors.get(device, (None, None, None))[2]
        best = fastest(rs, lambda r: (r["op"], r["pass"], r["impl"]), "gbps")
        table = []
        for op in ["softmax", "layer_norm", "cross_entropy"]:
            for pass_ in ["fwd", "fwdbwd"]:
                a, t = best.get((op, pass_, "attograd")), best.get((op, pass_, "torch"))
                if not a and not t:
                    continue
                ab, tb = (float(a["gbps"]) if a else None), (float(t["gbps"]) if t else None)
                frac = lambda b: b / floor if b is not None and floor else None
                speed = float(t["ms"]) / float(a["ms"]) if a and t else None
                table.append((op, pass_, ab, tb, frac(ab), frac(tb), speed, a["check"] if a else "-"))
        out[device] = table
    return out


def gpu_models_results(rows):
    """device -> [(model, atto ms, torch ms, atto / torch, atto MB, torch MB, torch's attention path)]"""
    out = {}
    for device, rs in by_device(rows, "gpu_models").items():
        best = fastest(rs, lambda r: (r["model"], r["impl"]), "ms", higher=False)
        table = []
        for model in MODELS:
            a, t = best.get((model, "attograd")), best.get((model, "torch"))
            if not a and not t:
                continue
            am, tm = (float(a["ms"]) if a else None), (float(t["ms"]) if t else None)
            table.append((model, am, tm, am / tm if am is not None and tm else None,
                          float(a["peak_mem_mb"]) if a else None, float(t["peak_mem_mb"]) if t else None,
                          t.get("attn", "-") if t else "-"))
        out[device] = table
    return out


def fmt(x, spec, width):
    return f"{x:{width}{spec}}" if x is not None else f"{'-':>{width}}"


def gpu_tables(rows):
    floors = copy_floor(rows)
    for device, table in gpu_gemm_results(rows).items():
        print(f"GPU gemm on {device}: float32, TF32 off, GFLOP/s (median); bmm is 16 x (n/4)^3;"
              f" target attograd / torch >= {GEMM_TARGET}")
        hdr = f"{'op':>4} {'n':>5} {'shape':>14} {'attograd':>9} {'torch':>9} {'ratio':>6}  target  check"
        print(hdr)
        print("-" * len(hdr))
        for op, n, batch, m, ag, tg, ratio, check in table:
            shape = f"{m}^3" if op == "mm" else f"{batch}x{m}^3"
            target = met(ratio, GEMM_TARGET)
            print(f"{op:>4} {n:>5} {shape:>14} {fmt(ag, '.1f', 9)} {fmt(tg, '.1f', 9)} {fmt(ratio, '.2f', 6)}"
                  f"  {target:>6}  {check}")
        print()
    for device, table in gpu_rows_results(rows).items():
        a, t, floor = floors.get(device, (None, None, None))
        print(f"GPU row ops on {device}: float32, bandwidth = least bytes moved / median time, GB/s; the floor is"
              f" the faster x.clone() (attograd {fmt(a, '.0f', 0)}, torch {fmt(t, '.0f', 0)} GB/s);"
              f" target attograd >= {BANDWIDTH_TARGET} of the floor")
        hdr = (f"{'op':>13} {'pass':>6} {'atto GB/s':>9} {'torch GB/s':>10} {'atto/floor':>10} {'torch/floor':>11}"
               f" {'speed vs torch':>14}  target  check")
        print(hdr)
        print("-" * len(hdr))
        for op, pass_, ab, tb, af, tf, speed, check in table:
            target = met(af, BANDWIDTH_TARGET)
            speed = f"{speed:13.2f}x" if speed is not None else f"{'-':>14}"
            print(f"{op:>13} {pass_:>6} {fmt(ab, '.0f', 9)} {fmt(tb, '.0f', 10)} {fmt(af, '.2f', 10)}"
                  f" {fmt(tf, '.2f', 11)} {speed}  {target:>6}  {check}")
        print()
    for device, table in gpu_models_results(rows).items():
        print(f"GPU training steps on {device}: milliseconds per step (median), ratio = attograd / torch (lower is"
              f" better); peak = allocator's peak allocated MiB")
        hdr = (f"{'model':>6} {'attograd ms':>11} {'torch ms':>9} {'ratio':>6} {'atto MiB':>9} {'torch MiB':>9}"
               "  torch attention")
        print(hdr)
        print("-" * len(hdr))
        for model, am, tm, ratio, amb, tmb, attn in table:
            print(f"{model:>6} {fmt(am, '.2f', 11)} {fmt(tm, '.2f', 9)} {fmt(ratio, '.2f', 6)} {fmt(amb, '.0f', 9)}"
                  f" {fmt(tmb, '.0f', 9)}  {attn}")
        print()


def gpu_summary(rows):
    """One line per GPU target, for the end of scripts/gpu-check.sh."""
    lines = []
    for device, table in gpu_gemm_results(rows).items():
        for op, n, _, _, ag, tg, ratio, check in table:
            lines.append(f"gemm {op:<4} n={n:<5} attograd/torch {fmt(ratio, '.2f', 5)}"
                         f"  (>= {GEMM_TARGET}) {met(ratio, GEMM_TARGET):>6}  check {check}")
    for device, table in gpu_rows_results(rows).items():
        for op, pass_, ab, tb, af, tf, speed, check in table:
            lines.append(f"{op:<13} {pass_:<6} bandwidth/floor {fmt(af, '.2f', 5)}  (>= {BANDWIDTH_TARGET})"
                         f" {met(af, BANDWIDTH_TARGET):>6}  check {check}  (torch {fmt(tf, '.2f', 4)})")
    for device, table in gpu_models_results(rows).items():
        for model, am, tm, ratio, *_ in table:
            lines.append(f"model {model:<5} attograd {fmt(am, '.1f', 8)} ms, torch {fmt(tm, '.1f', 8)} ms,"
                         f" attograd/torch {fmt(ratio, '.2f', 5)}")
    if not lines:
        lines.append("no GPU benchmark results")
    print("\n".join(lines))


rows = parse(sys.stdin.read().splitlines())
if "--summary" in sys.argv[1:]:
    gpu_summary(rows)
else:
    gemm_table(rows)
    overhead_table(rows)
    models_table(rows)
    gpu_tables(rows)
