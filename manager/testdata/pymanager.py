"""Python's multiprocessing Manager, measured as manager's Go benchmarks are.

    python3 pymanager.py MODE N

prints one line "ops_per_s p50_ns p99_ns" (for mode start: "starts_per_s")
for N operations of MODE: dict-set, dict-get, dict-set-4 (four client
processes, N operations in all), list-append, ns-set, start (Manager()
started and shut down N times).
"""
import multiprocessing as mp
import sys
import time


def timed(n, op):
    lat = []
    t0 = time.perf_counter_ns()
    for i in range(n):
        s = time.perf_counter_ns()
        op(i)
        lat.append(time.perf_counter_ns() - s)
    total = time.perf_counter_ns() - t0
    lat.sort()
    return n / (total / 1e9), lat[len(lat) // 2], lat[min(len(lat) - 1, len(lat) * 99 // 100)]


def setter(d, n, ready, go):
    ready.wait()
    go.wait()
    for i in range(n):
        d[i] = i


def main():
    mode, n = sys.argv[1], int(sys.argv[2])
    if mode == "start":
        t0 = time.perf_counter_ns()
        for _ in range(n):
            m = mp.Manager()
            m.shutdown()
        print(n / ((time.perf_counter_ns() - t0) / 1e9))
        return
    with mp.Manager() as m:
        if mode == "dict-set":
            d = m.dict()
            def op(i): d[i] = i
        elif mode == "dict-get":
            d = m.dict({0: 0})
            def op(i): d.get(0)
        elif mode == "list-append":
            lst = m.list()
            def op(i): lst.append(i)
        elif mode == "ns-set":
            ns = m.Namespace()
            def op(i): ns.x = i
        elif mode == "dict-set-4":
            d = m.dict()
            ready, go = mp.Barrier(5), mp.Barrier(5)
            ps = [mp.Process(target=setter, args=(d, n // 4, ready, go)) for _ in range(4)]
            for p in ps:
                p.start()
            ready.wait()
            t0 = time.perf_counter_ns()
            go.wait()
            for p in ps:
                p.join()
            print(4 * (n // 4) / ((time.perf_counter_ns() - t0) / 1e9), 0, 0)
            return
        else:
            sys.exit("unknown mode " + mode)
        print(*timed(n, op))


if __name__ == "__main__":
    main()
