// Package example is the sync-semaphore program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "sync-semaphore." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// Workers is how many workers compete for the semaphore.
const Workers = 10

// ActivePool is the set of active workers: one flag word per worker in the
// shared object "active", changed and read under Lock.
type ActivePool struct {
	Lock *semaphore.Mutex
	Seg  *shm.Segment
}

func (p *ActivePool) flag(i int) *atomic.Uint32 {
	o, err := p.Seg.Lookup("active", nil)
	if err != nil {
		panic(err)
	}
	return atomics.MustUint32At(o.Body, 4*i)
}

// String lists the active workers as Python prints a list of names. The
// caller holds Lock.
func (p *ActivePool) String() string {
	var names []string
	for i := 0; i < Workers; i++ {
		if p.flag(i).Load() != 0 {
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
	a.Pool.flag(a.ID).Store(1)
	fmt.Printf("Activating %d now running %s\n", a.ID, a.Pool)
	a.Pool.Lock.Unlock()
	time.Sleep(time.Duration(10+a.ID*7%30) * time.Millisecond) // the work
	if err := a.Pool.Lock.LockContext(ctx); err != nil {       // makeInactive
		return err
	}
	a.Pool.flag(a.ID).Store(0)
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
	seg, err := shm.Create(fmt.Sprintf("sync-semaphore-%d", os.Getpid()), 1<<16)
	if err != nil {
		return err
	}
	defer seg.Close()
	defer seg.Unlink()
	s, err := semaphore.CreateSemaphore(seg, "s", 3)
	if err != nil {
		return err
	}
	lock, err := semaphore.CreateMutex(seg, "lock")
	if err != nil {
		return err
	}
	if _, err := seg.Alloc("active", shm.ObjectSpec{BodySize: 4 * Workers}, nil); err != nil {
		return err
	}
	pool := &ActivePool{Lock: lock, Seg: seg}
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
