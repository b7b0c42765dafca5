// Sync-semaphore is Python's multiprocessing Semaphore "ActivePool" example
// in Go: ten worker processes, at most three of them active at once, each
// printing the list of active workers as it joins it.
//
//	class ActivePool:
//	    def makeActive(self, name):
//	        with self.lock:
//	            self.active.append(name)
//	    def makeInactive(self, name):
//	        with self.lock:
//	            self.active.remove(name)
//
//	def worker(s, pool):
//	    name = multiprocessing.current_process().name
//	    with s:
//	        pool.makeActive(name)
//	        print('Activating {} now running {}'.format(name, pool))
//	        time.sleep(random.random())
//	        pool.makeInactive(name)
//
//	s = multiprocessing.Semaphore(3)
//
// Python keeps the active list in a Manager process; here it is ten flags
// in shared memory guarded by a shmkit Mutex. Which workers overlap is the
// scheduler's business, so the lines differ from run to run, e.g.
//
//	Activating 0 now running ['0']
//	Activating 2 now running ['0', '2']
//	Activating 1 now running ['0', '1', '2']
//	Activating 3 now running ['1', '2', '3']
//	...
//	Now running []
//
// but every list holds at most three names, and its own.
package main

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

const workers = 10

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
	for i := 0; i < workers; i++ {
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

var worker = process.Register("worker", func(ctx context.Context, a args) error {
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

func main() {
	process.Main()
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
	s, err := semaphore.NewSemaphore(seg, "s", 3)
	if err != nil {
		return err
	}
	lock, err := semaphore.NewMutex(seg, "lock")
	if err != nil {
		return err
	}
	if _, err := seg.Alloc("active", shm.ObjectSpec{BodySize: 4 * workers}, nil); err != nil {
		return err
	}
	pool := &ActivePool{Lock: lock, Seg: seg}
	ctx := context.Background()
	var jobs []*process.Process
	for i := 0; i < workers; i++ {
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
