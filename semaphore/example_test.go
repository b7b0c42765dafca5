package semaphore_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// anon returns a fresh anonymous segment for an example.
func anon() *shm.Segment {
	seg, err := shm.CreateAnon(1 << 16)
	if err != nil {
		panic(err)
	}
	return seg
}

func ExampleSemaphore() {
	s, _ := semaphore.NewBoundedSemaphore(2)
	defer s.Close()
	ctx := context.Background()
	_ = s.AcquireContext(ctx, 2)
	fmt.Println("free:", s.Value(), "try:", s.TryAcquire(1))
	_ = s.Release(2)
	fmt.Println("over-release:", s.Release(1))
	// Output:
	// free: 0 try: false
	// over-release: semaphore: released too many times: value 2 + 1 > bound 2
}

func ExampleEvent() {
	e, _ := semaphore.NewEvent()
	defer e.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println("before Set:", e.WaitContext(ctx)) // ctx already over: reports the flag
	e.Set()
	fmt.Println("after Set:", e.WaitContext(context.Background()))
	// Output:
	// before Set: false
	// after Set: true
}

func ExampleCond() {
	c, _ := semaphore.NewCond()
	defer c.Close()
	ready := false // in real use: state in shared memory, guarded by c.L
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.L.Lock()
		ready = true
		c.L.Unlock()
		c.Broadcast()
	}()
	c.L.Lock()
	for !ready {
		c.Wait()
	}
	c.L.Unlock()
	wg.Wait()
	fmt.Println("ready:", ready)
	// Output: ready: true
}

func ExampleBarrier() {
	b, _ := semaphore.NewBarrier(3)
	defer b.Close()
	var wg sync.WaitGroup
	idx := make([]int, 3)
	for i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx[i], _ = b.Wait()
		}()
	}
	wg.Wait()
	sum := idx[0] + idx[1] + idx[2]
	fmt.Println("arrival indices sum:", sum, "broken:", b.Broken())
	// Output: arrival indices sum: 3 broken: false
}

func ExampleRWMutex() {
	rw, _ := semaphore.NewRWMutex()
	defer rw.Close()
	rw.RLock()
	rw.RLock() // readers share
	fmt.Println("another reader may enter:", func() bool { ok := rw.TryRLock(); rw.RUnlock(); return ok }())
	rw.RUnlock()
	rw.RUnlock()
	rw.Lock()
	fmt.Println("reader may enter:", rw.TryRLock())
	rw.Unlock()
	// Output:
	// another reader may enter: true
	// reader may enter: false
}

// An object of another package embeds a Mutex at the start of its body.
func ExampleInitMutex() {
	seg := anon()
	defer seg.Close()
	const bodySize = semaphore.MutexSize + 8 // the lock, then a counter
	o, err := seg.Alloc("counter", shm.ObjectSpec{BodySize: bodySize}, func(body []byte) error {
		_, err := semaphore.InitMutex(body[:semaphore.MutexSize])
		return err
	})
	if err != nil {
		panic(err)
	}
	m, err := semaphore.MutexAt(o.Body) // what an Open of the object does
	if err != nil {
		panic(err)
	}
	fmt.Println(m.LockContext(context.Background()), m.Owner().Pid == 0)
	m.Unlock()
	// Output: <nil> false
}

// A Mutex is a sync.Locker: code written for sync.Mutex takes it as it is.
func ExampleMutex_Lock() {
	m, _ := semaphore.NewMutex()
	defer m.Close()
	var l sync.Locker = m
	n := 0 // in real use: state in shared memory, guarded by m
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				l.Lock()
				n++
				l.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Println(n)
	// Output: 4000
}

// LockContext gives up when its context ends, and reports a holder that
// died (ErrOwnerDead), which the plain Lock cannot.
func ExampleMutex_LockContext() {
	m, _ := semaphore.NewMutex()
	defer m.Close()
	m.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	fmt.Println(m.LockContext(ctx))
	fmt.Println("held by this process:", m.Owner().Pid == os.Getpid())
	m.Unlock()
	// Output:
	// context deadline exceeded
	// held by this process: true
}

func ExampleRWMutex_RLocker() {
	rw, _ := semaphore.NewRWMutex()
	defer rw.Close()
	r := rw.RLocker()
	r.Lock()
	r.Lock() // readers share
	//lint:ignore SA2001 the Example shows that two read holds nest
	r.Unlock()
	r.Unlock()
	rw.Lock() // the writer, once the readers have left
	fmt.Println("a reader may enter:", rw.TryRLock())
	rw.Unlock()
	// Output: a reader may enter: false
}

// NewCondFor binds a Cond to a Mutex of its own, Python's
// Condition(lock): a worker that receives the Cond gets the same Mutex as
// its L.
func ExampleNewCondFor() {
	m, _ := semaphore.NewMutex()
	defer m.Close()
	c, _ := semaphore.NewCondFor(m)
	defer c.Close()
	done := false // in real use: state in shared memory, guarded by m
	left := make(chan struct{})
	go func() {
		defer close(left)
		m.Lock()
		done = true
		c.Broadcast()
		m.Unlock()
	}()
	m.Lock()
	c.WaitFor(func() bool { return done })
	m.Unlock()
	// The deferred Closes wait for nobody: the goroutine may still be in
	// its Unlock's wake after this one took the lock.
	<-left
	fmt.Println("done:", done, "same lock:", c.L == m)
	// Output: done: true same lock: true
}

// CreateMutex places a Mutex under a name in a segment, for processes that
// find each other by name rather than by handing handles down.
func ExampleCreateMutex() {
	seg := anon()
	defer seg.Close()
	m, _ := semaphore.CreateMutex(seg, "lock")
	other, _ := semaphore.OpenMutex(seg, "lock") // another process's view
	m.Lock()
	ok, _ := other.TryLock()
	fmt.Println("locked through the other handle:", ok)
	m.Unlock()
	// Output: locked through the other handle: false
}

// CreateCondFor binds a Cond to a Mutex that already guards the state
// (Python's Condition(lock)); WaitFor re-checks the predicate for the
// caller, and Notify wakes as many waiters as there is work for.
func ExampleCreateCondFor() {
	seg := anon()
	defer seg.Close()
	m, _ := semaphore.CreateMutex(seg, "lock")
	c, _ := semaphore.CreateCondFor(seg, "items", m)
	items := 0 // in real use: state in shared memory, guarded by m
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Lock()
			c.WaitFor(func() bool { return items > 0 })
			items--
			m.Unlock()
		}()
	}
	m.Lock()
	items = 3
	c.Notify(3)
	m.Unlock()
	wg.Wait()
	fmt.Println("left:", items, "same lock:", c.L == m)
	// Output: left: 0 same lock: true
}

// The action runs once per generation, in the last party to arrive, before
// any party goes on.
func ExampleBarrier_SetAction() {
	b, _ := semaphore.NewBarrier(3)
	defer b.Close()
	phase := 0
	b.SetAction(func() error { phase++; return nil })
	var wg sync.WaitGroup
	seen := make([]int, 3)
	for i := range seen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Wait()
			seen[i] = phase
		}()
	}
	wg.Wait()
	fmt.Println("phase:", phase, "seen:", seen)
	// Output: phase: 1 seen: [1 1 1]
}
