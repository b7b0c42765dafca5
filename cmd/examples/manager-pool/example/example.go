// Package example is the manager-pool program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "manager-pool." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"strconv"
	"time"

	"github.com/shmkit/shmkit/manager"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
)

// Workers is how many workers compete for the semaphore, MaxActive how
// many it lets in at once.
const (
	Workers   = 10
	MaxActive = 3
)

// ActivePool is the list of active workers, in a manager's server, and the
// lock that guards it.
type ActivePool struct {
	Lock   *semaphore.Mutex
	Active *manager.List[string]
}

func (p *ActivePool) makeActive(ctx context.Context, name string) (int, error) {
	if err := p.Lock.LockContext(ctx); err != nil {
		return 0, err
	}
	defer p.Lock.Unlock()
	return p.Active.Append(ctx, name)
}

func (p *ActivePool) makeInactive(ctx context.Context, name string) error {
	if err := p.Lock.LockContext(ctx); err != nil {
		return err
	}
	defer p.Lock.Unlock()
	return p.Active.Remove(ctx, name)
}

type args struct {
	S    *semaphore.Semaphore
	Pool *ActivePool
	ID   int
}

var worker = process.Register("manager-pool.worker", func(ctx context.Context, a args) error {
	if err := a.S.AcquireContext(ctx, 1); err != nil { // with s:
		return err
	}
	defer a.S.Release(1)
	name := strconv.Itoa(a.ID)
	n, err := a.Pool.makeActive(ctx, name)
	if err != nil {
		return err
	}
	if n > MaxActive {
		return fmt.Errorf("worker %s made %d workers active", name, n)
	}
	time.Sleep(time.Duration(5+a.ID*7%20) * time.Millisecond) // the work
	return a.Pool.makeInactive(ctx, name)
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	m, err := manager.Start(ctx)
	if err != nil {
		return err
	}
	defer m.Shutdown()
	s, err := m.Semaphore(MaxActive)
	if err != nil {
		return err
	}
	defer s.Close()
	lock, err := m.Lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	active, err := manager.NewList[string](ctx, m)
	if err != nil {
		return err
	}
	pool := &ActivePool{Lock: lock, Active: active}
	var jobs []*process.Process
	for i := range Workers {
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
	fmt.Printf("%d workers ran, never more than %d active\n", Workers, MaxActive)
	now, err := active.Slice(ctx, 0, Workers)
	if err != nil {
		return err
	}
	fmt.Printf("Now running: %q\n", now)
	return nil
}
