// Package pool runs registered functions in a pool of worker processes,
// as Python's multiprocessing.Pool and concurrent.futures.ProcessPoolExecutor
// do, with tasks and results travelling through shared-memory rings.
package pool
