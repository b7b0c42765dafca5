"""The Python side of package pool's benchmarks: multiprocessing.Pool on the
same machine, with the same number of workers, measured the way the Go
benchmarks measure the pool. Prints one JSON object; the Go benchmark that
runs this script reports its figures beside its own.

    python3 pool_bench.py map N WORKERS      pool.map(x -> 2x) over range(N), best chunksize
    python3 pool_bench.py apply N WORKERS    apply_async round trips: serial p50/p99, pipelined rate
    python3 pool_bench.py start N WORKERS    Pool(WORKERS) until every worker has answered, fork and spawn
"""
import json
import multiprocessing as mp
import sys
import time


def double(x):
    return 2 * x


def bench_map(n, workers):
    data = list(range(n))
    best = None
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(double, range(1000))  # warm up
        for chunksize in (1000, 5000, 20000, 50000, n // (4 * workers) + 1):
            t0 = time.perf_counter()
            out = pool.map(double, data, chunksize)
            dt = time.perf_counter() - t0
            assert out[-1] == 2 * (n - 1)
            rate = n / dt
            if best is None or rate > best["items_per_s"]:
                best = {"items_per_s": rate, "chunksize": chunksize}
    return best


def bench_apply(n, workers):
    with mp.get_context("fork").Pool(workers) as pool:
        pool.apply(double, (1,))
        lat = []
        for i in range(n):
            t0 = time.perf_counter_ns()
            pool.apply_async(double, (i,)).get()
            lat.append(time.perf_counter_ns() - t0)
        lat.sort()
        t0 = time.perf_counter()
        rs = [pool.apply_async(double, (i,)) for i in range(n)]
        for r in rs:
            r.get()
        dt = time.perf_counter() - t0
    return {"p50_us": lat[len(lat) // 2] / 1e3, "p99_us": lat[len(lat) * 99 // 100] / 1e3, "tasks_per_s": n / dt}


def bench_start(n, workers):
    out = {}
    for method in ("fork", "spawn"):
        ctx = mp.get_context(method)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            pool = ctx.Pool(workers)
            # Ready: every worker has answered a task.
            pool.map(double, range(workers), 1)
            times.append(time.perf_counter() - t0)
            pool.terminate()
            pool.join()
        times.sort()
        out[method + "_ms"] = times[len(times) // 2] * 1e3
    return out


if __name__ == "__main__":
    what, n, workers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print(json.dumps({"map": bench_map, "apply": bench_apply, "start": bench_start}[what](n, workers)))
