#!/usr/bin/env python3
"""Python's multiprocessing figures that shmkit's benchmarks are compared with.

  mp.Queue 64 B     one producer process puts N 64-byte bytes objects, this
                    process gets them: messages per second (the queue's
                    feeder thread batches its pipe writes)
  Value+get_lock    two processes each add 1 to a Value('q') N times under
                    its get_lock(): updates per second

Run by .ci/peers-python beside BenchmarkStream64 (queue) and
BenchmarkUpdateTwoProcesses (value); it prints one line per figure:

  python-mpqueue-64 <msgs/s>
  python-value-lock-2proc <updates/s>
"""
import multiprocessing as mp
import sys
import time


def produce(q, n):
    msg = bytes(64)
    for _ in range(n):
        q.put(msg)


def queue_rate(n):
    q = mp.Queue()
    p = mp.Process(target=produce, args=(q, n))
    start = time.perf_counter()
    p.start()
    for _ in range(n):
        q.get()
    elapsed = time.perf_counter() - start
    p.join()
    return n / elapsed


def add(v, n, go):
    go.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def value_rate(n):
    v = mp.Value("q", 0)
    go = mp.Event()
    ps = [mp.Process(target=add, args=(v, n, go)) for _ in range(2)]
    for p in ps:
        p.start()
    start = time.perf_counter()
    go.set()
    for p in ps:
        p.join()
    elapsed = time.perf_counter() - start
    if v.value != 2 * n:
        sys.exit(f"value {v.value}, want {2 * n}")
    return 2 * n / elapsed


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    print(f"python-mpqueue-64 {queue_rate(n):.0f}")
    print(f"python-value-lock-2proc {value_rate(n // 2):.0f}")
