// Package example is the sync-lock program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "sync-lock." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// Lines is how many lines each worker prints.
const Lines = 10

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

var workerWith = process.Register("sync-lock.worker_with", func(ctx context.Context, a args) error {
	if _, err := a.Start.WaitContext(ctx); err != nil {
		return err
	}
	for i := 1; i <= Lines; i++ {
		if err := func() error {
			if err := a.Lock.LockContext(ctx); err != nil {
				return err
			}
			defer a.Lock.Unlock()
			write(fmt.Sprintf("Lock acquired via with (%d of %d)", i, Lines))
			return nil
		}(); err != nil {
			return err
		}
	}
	return nil
})

var workerNoWith = process.Register("sync-lock.worker_no_with", func(ctx context.Context, a args) error {
	if _, err := a.Start.WaitContext(ctx); err != nil {
		return err
	}
	for i := 1; i <= Lines; i++ {
		if err := a.Lock.LockContext(ctx); err != nil {
			return err
		}
		write(fmt.Sprintf("Lock acquired directly (%d of %d)", i, Lines))
		a.Lock.Unlock()
	}
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	lock, err := semaphore.NewMutex() // Lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	start, err := semaphore.NewBarrier(2)
	if err != nil {
		return err
	}
	defer start.Close()
	ctx := context.Background()
	w, err := workerWith.Start(ctx, args{Lock: lock, Start: start})
	if err != nil {
		return err
	}
	nw, err := workerNoWith.Start(ctx, args{Lock: lock, Start: start})
	if err != nil {
		return err
	}
	// Take the workers as they exit: one that failed (killed before the
	// barrier, say) leaves the other waiting there for ever.
	if err := process.WaitAll(ctx, w, nw); err != nil {
		return err
	}
	return nil
}
