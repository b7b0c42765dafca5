package semaphore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/bench"
	"github.com/shmkit/shmkit/internal/benchutil"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// BenchmarkMutexUncontended: Lock/Unlock by one goroutine, beside the
// baseline sync.Mutex in the same run.
func BenchmarkMutexUncontended(b *testing.B) {
	b.Run("shmkit", func(b *testing.B) {
		seg := shmtest.Segment(b, 1<<16)
		m, err := semaphore.CreateMutex(seg, "m")
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := m.LockContext(ctx); err != nil {
				b.Fatal(err)
			}
			m.Unlock()
		}
	})
	b.Run("sync.Mutex", func(b *testing.B) {
		var m sync.Mutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			m.Lock()
			//lint:ignore SA2001 an empty critical section is what the baseline measures
			m.Unlock()
		}
	})
}

// BenchmarkMutexTryLockHeld: TryLock on a held Mutex, as a goroutine polling
// a busy lock makes it, beside sync.Mutex's TryLock. Held by this process:
// no look in /proc; held by another: a look once a millisecond.
func BenchmarkMutexTryLockHeld(b *testing.B) {
	poll := func(b *testing.B, m *semaphore.Mutex) {
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if ok, err := m.TryLock(); ok || err != nil {
				b.Fatal(ok, err)
			}
		}
	}
	b.Run("shmkit-other-process", func(b *testing.B) {
		m, _, p := holdMutex(b)
		defer p.Wait()
		defer p.Kill()
		poll(b, m)
	})
	b.Run("shmkit", func(b *testing.B) {
		seg := shmtest.Segment(b, 1<<16)
		m, err := semaphore.CreateMutex(seg, "m")
		if err != nil {
			b.Fatal(err)
		}
		if err := m.LockContext(context.Background()); err != nil {
			b.Fatal(err)
		}
		defer m.Unlock()
		poll(b, m)
	})
	b.Run("sync.Mutex", func(b *testing.B) {
		var m sync.Mutex
		m.Lock()
		defer m.Unlock()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if m.TryLock() {
				b.Fatal("locked twice")
			}
		}
	})
}

// BenchmarkMutexContended2Proc: this process and a child each add b.N to one
// counter under one Mutex; ops/s counts both, handovers/klock how often
// the lock went from one process to the other per thousand locks. The
// baseline is sync.Mutex with two goroutines in one process.
func BenchmarkMutexContended2Proc(b *testing.B) {
	b.Run("shmkit-2proc", func(b *testing.B) {
		benchutil.ReportFloor(b) // before the peer starts: the floor of this run
		m, f := sharedMutex(b)
		ctx := context.Background()
		p, err := counterWorker.Start(ctx, counterArgs{M: m, F: f, Iters: b.N})
		if err != nil {
			b.Fatal(err)
		}
		f.await(b, 1, 1, 20*time.Second)
		c := f.u64(0)
		b.ResetTimer()
		start := time.Now()
		f.signal(2, 1)
		// A count that is not the one this process left behind means the
		// child held the lock in between: two hand-overs.
		var left, handovers uint64
		for i := 0; i < b.N; i++ {
			if err := m.LockContext(ctx); err != nil {
				b.Fatal(err)
			}
			x := c.Load()
			if x != left {
				handovers += 2
			}
			left = x + 1
			c.Store(left)
			m.Unlock()
		}
		if err := p.Wait(); err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		b.StopTimer()
		if got := c.Load(); got != uint64(2*b.N) {
			b.Fatalf("counter %d, want %d", got, 2*b.N)
		}
		benchutil.ReportRate(b, 2*b.N, 0, el)
		// Hand-overs between the processes per thousand locks: what a
		// contended lock pays most for (the line moves each time).
		b.ReportMetric(float64(handovers)*1000/float64(2*b.N), "handovers/klock")
	})
	b.Run("sync.Mutex-2goroutines", func(b *testing.B) {
		benchutil.ReportFloor(b)
		b.ResetTimer()
		var m sync.Mutex
		var c uint64
		var wg sync.WaitGroup
		start := time.Now()
		for g := 0; g < 2; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < b.N; i++ {
					m.Lock()
					c++
					m.Unlock()
				}
			}()
		}
		wg.Wait()
		benchutil.ReportRate(b, 2*b.N, 0, time.Since(start))
	})
}

var _ = process.Current

// BenchmarkEventWake: round trips between this process and a child, each
// way a Set of an Event the other side Waits on; p50/p99 of the round trip
// beside the raw futex ping-pong floor (bench.FutexPingPong: the same round
// trip with bare FUTEX_WAIT/FUTEX_WAKE) and the shared-memory spin floor
// (bench.ShmPingPong: both sides spinning), measured in the same run. A
// wait that spins through the round trip (the Event's learnt spin) lands
// near the spin floor; one that parks, near the futex floor.
func BenchmarkEventWake(b *testing.B) {
	b.Run("event", func(b *testing.B) {
		seg := shmtest.Segment(b, 1<<16)
		e, _ := semaphore.CreateEvent(seg, "ping")
		back, _ := semaphore.CreateEvent(seg, "pong")
		ctx := context.Background()
		p, err := eventWorker.Start(ctx, eventArgs{E: e, Back: back, Rounds: b.N + 1})
		if err != nil {
			b.Fatal(err)
		}
		back.Clear()
		e.Set() // warm-up round: the child is running
		back.WaitContext(ctx)
		lat := benchutil.NewLatency()
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			back.Clear()
			e.Set()
			if !back.WaitContext(ctx) {
				b.Fatal("no answer")
			}
			lat.Record(time.Since(t0))
		}
		el := time.Since(start)
		b.StopTimer()
		if err := p.Wait(); err != nil {
			b.Fatal(err)
		}
		benchutil.ReportRate(b, b.N, 0, el)
		lat.Report(b)
	})
	b.Run("futex-floor", bench.FutexPingPong)
	b.Run("shm-spin-floor", bench.ShmPingPong)
}

// BenchmarkRWMutexRead: uncontended RLock/RUnlock beside sync.RWMutex.
// BenchmarkRWMutexWrite is an uncontended Lock and Unlock, beside
// sync.RWMutex's.
func BenchmarkRWMutexWrite(b *testing.B) {
	b.Run("shmkit", func(b *testing.B) {
		seg := shmtest.Segment(b, 1<<16)
		rw, err := semaphore.CreateRWMutex(seg, "rw")
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := rw.LockContext(ctx); err != nil {
				b.Fatal(err)
			}
			rw.Unlock()
		}
	})
	b.Run("sync.RWMutex", func(b *testing.B) {
		var rw sync.RWMutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rw.Lock()
			//lint:ignore SA2001 an empty critical section is what the baseline measures
			rw.Unlock()
		}
	})
}

func BenchmarkRWMutexRead(b *testing.B) {
	b.Run("shmkit", func(b *testing.B) {
		seg := shmtest.Segment(b, 1<<16)
		rw, err := semaphore.CreateRWMutex(seg, "rw")
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := rw.RLockContext(ctx); err != nil {
				b.Fatal(err)
			}
			rw.RUnlock()
		}
	})
	b.Run("sync.RWMutex", func(b *testing.B) {
		var rw sync.RWMutex
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rw.RLock()
			//lint:ignore SA2001 an empty critical section is what the baseline measures
			rw.RUnlock()
		}
	})
}

// BenchmarkSemaphoreUncontended: Acquire(1)/Release(1) beside a buffered
// channel used as a semaphore.
func BenchmarkSemaphoreUncontended(b *testing.B) {
	b.Run("shmkit", func(b *testing.B) {
		seg := shmtest.Segment(b, 1<<16)
		s, err := semaphore.CreateSemaphore(seg, "s", 1)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := s.AcquireContext(ctx, 1); err != nil {
				b.Fatal(err)
			}
			s.Release(1)
		}
	})
	b.Run("chan", func(b *testing.B) {
		ch := make(chan struct{}, 1)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			ch <- struct{}{}
			<-ch
		}
	})
}

// BenchmarkDoneContext: a wait that cannot succeed now, under a context
// that is already done (Python's acquire(timeout=0), wait(0)), beside a Go
// channel receive with default in the same run.
func BenchmarkDoneContext(b *testing.B) {
	seg := shmtest.Segment(b, 1<<16)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	e, err := semaphore.CreateEvent(seg, "e")
	if err != nil {
		b.Fatal(err)
	}
	s, err := semaphore.CreateSemaphore(seg, "s", 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("event-wait", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if e.WaitContext(done) {
				b.Fatal("unset event waited true")
			}
		}
	})
	b.Run("semaphore-acquire", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if s.AcquireContext(done, 1) == nil {
				b.Fatal("acquired an empty semaphore")
			}
		}
	})
	b.Run("chan", func(b *testing.B) {
		ch := make(chan struct{})
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			select {
			case <-ch:
				b.Fatal("received")
			default:
			}
		}
	})
}

// The cost of a Mutex's life: NewMutex + Close in this process's heap,
// beside a segment of its own (see benchutil.ObjectLife).
func BenchmarkNewMutexClose(b *testing.B) {
	benchutil.ObjectLife(b, "NewMutex+Close", func() error {
		m, err := semaphore.NewMutex()
		if err == nil {
			m.Close()
		}
		return err
	}, func(seg *shm.Segment) error {
		_, err := semaphore.CreateMutex(seg, "m")
		return err
	})
}
