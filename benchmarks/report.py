"""benchmarks/report.py -- reads the "RESULT key=value ..." lines that the benchmarks print (stdin)
and prints the comparison tables. For PyTorch and libtorch, every thread configuration was measured
and the table compares against the fastest one (never the slower).
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
    # With one thread, CPU time is the work itself, whatever else runs on the machine.
    one = {(r["model"], r["impl"]): r for r in ms if r["threads"] == "1" and "cpu_ms" in r}
    if any(impl == "attograd" for _, impl in one):
        print("1 thread, CPU time per step (robust to a busy machine):")
        print(f"{'model':>10} {'attograd ms':>11} {'torch ms':>9} {'ratio':>6}")
        for model in ["lstm", "mha", "gpt", "sentiment"]:
            a, t = one.get((model, "attograd")), one.get((model, "torch"))
            if a and t:
                ac, tc = float(a["cpu_ms"]), float(t["cpu_ms"])
                print(f"{model:>10} {ac:11.1f} {tc:9.1f} {ac / tc:6.2f}")
    print()


rows = parse(sys.stdin.read().splitlines())
gemm_table(rows)
overhead_table(rows)
models_table(rows)
