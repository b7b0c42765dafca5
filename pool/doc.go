// Package pool runs registered functions in a pool of worker processes, as
// Python's multiprocessing.Pool and concurrent.futures.ProcessPoolExecutor
// do, with the tasks and their results travelling through shared-memory
// rings, and with a worker's death an error, never a hang.
//
// A task function is registered by name at package initialisation, as
// package process registers worker functions, so that the workers (this
// program, started again) know it too; one pool runs any number of them:
//
//	var double = pool.Register("double", func(ctx context.Context, x int64) (int64, error) {
//		return 2 * x, nil
//	})
//
//	func main() {
//		process.Main() // runs the pool's workers when started as one
//		p, err := pool.Start(ctx, pool.Processes(4))
//		…
//		out, err := pool.Map(ctx, p, double, xs)
//		p.Close()
//		p.Join(ctx)
//	}
//
// # Calls
//
// Map (chunked, results in input order), Starmap, Imap and ImapUnordered
// (an iter.Seq in, an iter.Seq2 of results and errors out, lazily and in
// bounded memory), Submit (a Future: Get, Done, Ready, Err, OnDone) and
// Apply. MapShared is the zero-copy map: inputs and outputs in arrays in
// shared memory, read and written in place by the workers. RegisterBatch
// registers a function that takes a whole chunk at once, for tasks so small
// that a call per task would dominate. Every call
// takes a context: when it ends, the call's tasks that no worker has taken
// yet are withdrawn and the call returns at once; tasks already running
// finish and their results are dropped. Close stops new calls, Join waits
// for the workers to exit, Terminate kills them.
//
// # Workers
//
// Start starts Processes workers (runtime.NumCPU by default), named
// PREFIX-1, PREFIX-2, … (WithNamePrefix), and returns once each has run its
// initializer (WithInitializer). Each worker has two single-producer
// single-consumer rings of its own in an anonymous segment, tasks in and
// results out; nothing is left in /dev/shm. The parent gives each worker at
// most MaxInFlight records of tasks at a time (a chunk, or Submits queued
// together) and so knows exactly which tasks each worker holds. A worker that has run MaxTasksPerChild chunks exits; a
// worker that exits or dies is replaced as soon as there is a task for it.
//
// # Failures
//
// A task's error reaches the caller as a *TaskError with its message; a
// panic in a task is that task's error (matching ErrPanicked), with the
// stack, and the worker goes on. A worker that dies — killed by a signal,
// an os.Exit, a crash outside a task — fails the tasks it held, and only
// those, each with a *WorkerError that names the worker, its PID and the
// signal or exit status (matching ErrWorkerDied); WithRetries runs them
// again on another worker instead. The parent waits on each worker's exit
// and its results at once, so the call goes on within moments of the
// death.
//
// # What travels
//
// In and Out travel with codec.Default. A fixed-size, pointer-free type
// without a bool travels as its raw bytes: a chunk of int64 is one copy
// into the ring and one out, without an allocation. Other types are encoded
// (gob, for most). A chunk of inputs, and every result, raw or encoded,
// must fit in a quarter of a worker's ring (WithBufferSize, 1 MiB by
// default), or the task fails with ErrTooLarge.
//
// Scope: Linux only.
package pool
