// Package example is the sync-semaphore program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "sync-semaphore." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// Workers is how many workers compete for the semaphore.
const Workers = 10

// ActivePool is the set of active workers: one flag per worker, changed
// and read under Lock.
type ActivePool struct {
	Lock   *semaphore.Mutex
	Active *array.RawArray[bool]
}

// String lists the active workers as Python prints a list of names. The
// caller holds Lock.
func (p *ActivePool) String() string {
	var names []string
	for i := 0; i < Workers; i++ {
		if p.Active.At(i) {
			names = append(names, "'"+strconv.Itoa(i)+"'")
		}
	}
	return "[" + strings.Join(names, ", ") + "]"
}

type args struct {
	S    *semaphore.Semaphore
	Pool *ActivePool
	ID   int
}

var worker = process.Register("sync-semaphore.worker", func(ctx context.Context, a args) error {
	if err := a.S.AcquireContext(ctx, 1); err != nil { // with s:
		return err
	}
	defer a.S.Release(1)
	if err := a.Pool.Lock.LockContext(ctx); err != nil { // makeActive
		return err
	}
	a.Pool.Active.Set(a.ID, true)
	fmt.Printf("Activating %d now running %s\n", a.ID, a.Pool)
	a.Pool.Lock.Unlock()
	time.Sleep(time.Duration(10+a.ID*7%30) * time.Millisecond) // the work
	if err := a.Pool.Lock.LockContext(ctx); err != nil {       // makeInactive
		return err
	}
	a.Pool.Active.Set(a.ID, false)
	a.Pool.Lock.Unlock()
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	s, err := semaphore.NewSemaphore(3) // Semaphore(3)
	if err != nil {
		return err
	}
	defer s.Close()
	lock, err := semaphore.NewMutex() // Lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	active, err := array.NewRaw[bool](Workers)
	if err != nil {
		return err
	}
	defer active.Close()
	pool := &ActivePool{Lock: lock, Active: active}
	ctx := context.Background()
	var jobs []*process.Process
	for i := 0; i < Workers; i++ {
		j, err := worker.Start(ctx, args{S: s, Pool: pool, ID: i}, process.WithName(strconv.Itoa(i)))
		if err != nil {
			return err
		}
		jobs = append(jobs, j)
	}
	for _, j := range jobs {
		if err := j.Wait(); err != nil {
			return err
		}
	}
	if err := lock.LockContext(ctx); err != nil {
		return err
	}
	fmt.Printf("Now running %s\n", pool)
	lock.Unlock()
	return nil
}
