package semaphore_test

import (
	"context"
	"fmt"
	"sync"

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
	seg := anon()
	defer seg.Close()
	s, _ := semaphore.NewBoundedSemaphore(seg, "slots", 2)
	ctx := context.Background()
	_ = s.Acquire(ctx, 2)
	fmt.Println("free:", s.Value(), "try:", s.TryAcquire(1))
	_ = s.Release(2)
	fmt.Println("over-release:", s.Release(1))
	// Output:
	// free: 0 try: false
	// over-release: semaphore: released too many times: value 2 + 1 > bound 2
}

func ExampleEvent() {
	seg := anon()
	defer seg.Close()
	e, _ := semaphore.NewEvent(seg, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fmt.Println("before Set:", e.Wait(ctx)) // ctx already over: reports the flag
	e.Set()
	fmt.Println("after Set:", e.Wait(context.Background()))
	// Output:
	// before Set: false
	// after Set: true
}

func ExampleCond() {
	seg := anon()
	defer seg.Close()
	c, _ := semaphore.NewCond(seg, "c")
	ctx := context.Background()
	ready := false // in real use: state in shared memory, guarded by c.L
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.L.Lock(ctx)
		ready = true
		c.L.Unlock()
		c.Broadcast()
	}()
	c.L.Lock(ctx)
	for !ready {
		c.Wait(ctx)
	}
	c.L.Unlock()
	wg.Wait()
	fmt.Println("ready:", ready)
	// Output: ready: true
}

func ExampleBarrier() {
	seg := anon()
	defer seg.Close()
	b, _ := semaphore.NewBarrier(seg, "b", 3)
	var wg sync.WaitGroup
	idx := make([]int, 3)
	for i := range idx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx[i], _ = b.Wait(context.Background())
		}()
	}
	wg.Wait()
	sum := idx[0] + idx[1] + idx[2]
	fmt.Println("arrival indices sum:", sum, "broken:", b.Broken())
	// Output: arrival indices sum: 3 broken: false
}

func ExampleRWMutex() {
	seg := anon()
	defer seg.Close()
	rw, _ := semaphore.NewRWMutex(seg, "rw")
	ctx := context.Background()
	_ = rw.RLock(ctx)
	_ = rw.RLock(ctx) // readers share
	fmt.Println("another reader may enter:", func() bool { ok := rw.TryRLock(); rw.RUnlock(); return ok }())
	rw.RUnlock()
	rw.RUnlock()
	_ = rw.Lock(ctx)
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
	fmt.Println(m.Lock(context.Background()), m.Owner().IsZero())
	m.Unlock()
	// Output: <nil> false
}
