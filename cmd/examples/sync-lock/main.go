// Sync-lock is Python's multiprocessing Lock example in Go: two worker
// processes write to one output stream, each holding a shared Lock while it
// writes, so that their lines never interleave. One releases with a
// deferred Unlock (Python's `with lock:`), the other calls Lock and Unlock
// itself (Python's acquire/try/finally release).
//
//	def worker_with(lock, stream):
//	    with lock:
//	        stream.write('Lock acquired via with\n')
//
//	def worker_no_with(lock, stream):
//	    lock.acquire()
//	    try:
//	        stream.write('Lock acquired directly\n')
//	    finally:
//	        lock.release()
//
// To make interleaving visible if the lock failed, each worker writes each
// of its lines a word at a time, one write system call per word, several
// times, and both start together (a Barrier). Which worker goes first is
// up to the scheduler; every line comes out whole:
//
//	Lock acquired directly (1 of 10)
//	Lock acquired directly (2 of 10)
//	Lock acquired via with (1 of 10)
//	...
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

const lines = 10

type args struct {
	Lock  *semaphore.Mutex
	Start *semaphore.Barrier // both workers begin together, so they contend
}

// write writes line to stdout a word at a time.
func write(line string) {
	words := strings.SplitAfter(line, " ")
	for _, w := range words {
		os.Stdout.WriteString(w)
	}
	os.Stdout.WriteString("\n")
}

var workerWith = process.Register("worker_with", func(ctx context.Context, a args) error {
	if _, err := a.Start.WaitContext(ctx); err != nil {
		return err
	}
	for i := 1; i <= lines; i++ {
		if err := func() error {
			if err := a.Lock.LockContext(ctx); err != nil {
				return err
			}
			defer a.Lock.Unlock()
			write(fmt.Sprintf("Lock acquired via with (%d of %d)", i, lines))
			return nil
		}(); err != nil {
			return err
		}
	}
	return nil
})

var workerNoWith = process.Register("worker_no_with", func(ctx context.Context, a args) error {
	if _, err := a.Start.WaitContext(ctx); err != nil {
		return err
	}
	for i := 1; i <= lines; i++ {
		if err := a.Lock.LockContext(ctx); err != nil {
			return err
		}
		write(fmt.Sprintf("Lock acquired directly (%d of %d)", i, lines))
		a.Lock.Unlock()
	}
	return nil
})

func main() {
	process.Main()
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	seg, err := shm.Create(fmt.Sprintf("sync-lock-%d", os.Getpid()), 1<<16)
	if err != nil {
		return err
	}
	defer seg.Close()
	defer seg.Unlink()
	lock, err := semaphore.NewMutex(seg, "lock")
	if err != nil {
		return err
	}
	start, err := semaphore.NewBarrier(seg, "start", 2)
	if err != nil {
		return err
	}
	ctx := context.Background()
	w, err := workerWith.Start(ctx, args{Lock: lock, Start: start})
	if err != nil {
		return err
	}
	nw, err := workerNoWith.Start(ctx, args{Lock: lock, Start: start})
	if err != nil {
		return err
	}
	if err := w.Wait(); err != nil {
		return err
	}
	return nw.Wait()
}
