package atomics_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// sharedWords returns n 32-bit words of a fresh anonymous segment, each on
// its own cache line.
func sharedWords(tb testing.TB, n int) (*shm.Segment, []*atomic.Uint32) {
	tb.Helper()
	s, err := shm.CreateAnon(int64(n * shm.CacheLine))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	ws := make([]*atomic.Uint32, n)
	for i := range ws {
		ws[i] = atomics.MustUint32At(s.Bytes(), i*shm.CacheLine)
	}
	return s, ws
}

func TestWordsAt(t *testing.T) {
	mem := make([]byte, 64)
	base := 0
	for ; (uintptrOf(mem)+uintptr(base))%8 != 0; base++ {
	}
	if _, err := atomics.Uint64At(mem, base+8); err != nil {
		t.Fatalf("aligned Uint64At: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  error
		call func() error
	}{
		{"u32 misaligned", atomics.ErrMisaligned, func() error { _, err := atomics.Uint32At(mem, base+2); return err }},
		{"u64 misaligned", atomics.ErrMisaligned, func() error { _, err := atomics.Uint64At(mem, base+4); return err }},
		{"i64 misaligned", atomics.ErrMisaligned, func() error { _, err := atomics.Int64At(mem, base+12); return err }},
		{"i32 misaligned", atomics.ErrMisaligned, func() error { _, err := atomics.Int32At(mem, base+1); return err }},
		{"negative", atomics.ErrOutOfRange, func() error { _, err := atomics.Uint32At(mem, -4); return err }},
		{"past end", atomics.ErrOutOfRange, func() error { _, err := atomics.Uint32At(mem, 64); return err }},
		{"straddles end", atomics.ErrOutOfRange, func() error { _, err := atomics.Uint64At(mem, 60); return err }},
		{"empty", atomics.ErrOutOfRange, func() error { _, err := atomics.Uint32At(nil, 0); return err }},
	} {
		if err := tc.call(); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("MustUint32At of a bad offset did not panic")
		}
	}()
	atomics.MustUint32At(mem, 63)
}

func TestWait(t *testing.T) {
	_, ws := sharedWords(t, 1)
	w := ws[0]
	if err := atomics.Wait(w, 7, time.Second); err != nil {
		t.Fatalf("Wait on a word that does not hold the value = %v, want nil at once", err)
	}
	start := time.Now()
	if err := atomics.Wait(w, 0, 20*time.Millisecond); err != atomics.ErrTimeout {
		t.Fatalf("Wait = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Fatalf("Wait timed out after %v, before its 20ms", d)
	}
	if n := atomics.Wake(w, -1); n != 0 {
		t.Fatalf("Wake with no waiters woke %d", n)
	}
}

type pokeArgs struct{ Seg *shm.Segment }

// poker waits (through Await, in another process) for the parent's word
// 0 to change, then stores its value plus one in word 1 and wakes it.
var poker = process.Register("atomics-test-poker", func(ctx context.Context, a pokeArgs) error {
	in := atomics.MustUint32At(a.Seg.Bytes(), 0)
	out := atomics.MustUint32At(a.Seg.Bytes(), shm.CacheLine)
	for in.Load() == 0 {
		if err := atomics.Await(ctx, in, 0, nil); err != nil {
			return err
		}
	}
	out.Store(in.Load() + 1)
	atomics.Wake(out, -1)
	return nil
})

func TestAwaitAcrossProcesses(t *testing.T) {
	s, ws := sharedWords(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := poker.Start(ctx, pokeArgs{Seg: s})
	if err != nil {
		t.Fatal(err)
	}
	ws[0].Store(41)
	atomics.Wake(ws[0], -1)
	for ws[1].Load() == 0 {
		if err := atomics.Await(ctx, ws[1], 0, &atomics.WaitOptions{Spin: -1}); err != nil {
			t.Fatal(err)
		}
	}
	if got := ws[1].Load(); got != 42 {
		t.Fatalf("child answered %d, want 42", got)
	}
	if err := p.Wait(); err != nil {
		t.Fatal(err)
	}
}

// threads counts this process's OS threads.
func threads(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestParkedGoroutinesHoldFewThreads parks 1,000 goroutines on one shared
// word: they must hold fewer than 16 OS threads, and all of them must wake
// when the word changes.
func TestParkedGoroutinesHoldFewThreads(t *testing.T) {
	const goroutines = 1000
	_, ws := sharedWords(t, 1)
	w := ws[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var woke atomic.Int64
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // on a t.Fatal below, the deferred cancel wakes them; they leave w before it is unmapped
	for i := 0; i < goroutines; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for w.Load() == 0 {
				if err := atomics.Await(ctx, w, 0, nil); err != nil {
					errs <- err
					return
				}
			}
			woke.Add(1)
		}()
	}
	// Wait until every goroutine is registered with the word's sleeper.
	for {
		users, sleeping := atomics.Parked(w)
		if users == goroutines && sleeping {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("only %d goroutines parked (sleeper: %v)", users, sleeping)
		}
		runtime.Gosched()
	}
	if n := threads(t); n >= 16 {
		t.Fatalf("%d goroutines parked on one word hold %d OS threads, want fewer than 16", goroutines, n)
	} else {
		t.Logf("%d goroutines parked on one word; the process has %d OS threads", goroutines, n)
	}
	w.Store(1)
	atomics.Wake(w, -1)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := woke.Load(); n != goroutines {
		t.Fatalf("%d of %d goroutines woke", n, goroutines)
	}
	if users, _ := atomics.Parked(w); users != 0 {
		t.Fatalf("%d goroutines still registered on the word after waking", users)
	}
}

// awaitAll runs Await in n goroutines on w (which holds 0) with opts and
// ctx, and returns their errors.
func awaitAll(ctx context.Context, w *atomic.Uint32, n int, opts *atomics.WaitOptions) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := atomics.Await(ctx, w, 0, opts)
				if err != nil || w.Load() != 0 {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// TestAwaitContext checks cancel and deadline for the sleeper and for the
// goroutines waiting behind it, with every strategy.
func TestAwaitContext(t *testing.T) {
	for _, strategy := range []atomics.Strategy{atomics.Park, atomics.Spin, atomics.Yield} {
		t.Run(strategy.String(), func(t *testing.T) {
			_, ws := sharedWords(t, 1)
			opts := &atomics.WaitOptions{Strategy: strategy}
			n := 3
			if strategy != atomics.Park {
				n = 1 // a busy waiter per core at most
			}

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan []error, 1) // buffered: after the timeout below nobody reads it
			shmtest.Go(t, func() { done <- awaitAll(ctx, ws[0], n, opts) })
			for strategy == atomics.Park {
				if users, sleeping := atomics.Parked(ws[0]); users == n && sleeping {
					break
				}
				runtime.Gosched()
			}
			cancel()
			select {
			case errs := <-done:
				for _, err := range errs {
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("Await after cancel = %v, want context.Canceled", err)
					}
				}
			case <-time.After(10 * time.Second):
				// The cleanup still waits for the waiters before it unmaps
				// the word: stuck ones hang the test until go test's
				// -timeout dumps them, rather than fault on the unmap.
				t.Fatal("Await did not return within 10s of its context's cancel")
			}

			start := time.Now()
			dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer dcancel()
			for _, err := range awaitAll(dctx, ws[0], n, opts) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Await past its deadline = %v, want DeadlineExceeded", err)
				}
			}
			if d := time.Since(start); d < 30*time.Millisecond || d > 10*time.Second {
				t.Fatalf("Await with a 30ms deadline returned after %v", d)
			}
		})
	}
}

// TestAwaitDoneContext: under a context done before the call, Await
// returns the context's error if it would have to wait, nil if the word has
// already moved: progress wins over the deadline.
func TestAwaitDoneContext(t *testing.T) {
	_, ws := sharedWords(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, strategy := range []atomics.Strategy{atomics.Park, atomics.Spin, atomics.Yield} {
		opts := &atomics.WaitOptions{Strategy: strategy}
		if err := atomics.Await(ctx, ws[0], ws[0].Load(), opts); !errors.Is(err, context.Canceled) {
			t.Fatalf("%v: Await on an unchanged word, done context = %v, want context.Canceled", strategy, err)
		}
		if err := atomics.Await(ctx, ws[0], ws[0].Load()+1, opts); err != nil {
			t.Fatalf("%v: Await on a word that moved, done context = %v, want nil", strategy, err)
		}
	}
}

// TestAwaitCheck: a Check that reports a dead peer ends the wait, for the
// sleeper and for the goroutines behind it.
func TestAwaitCheck(t *testing.T) {
	_, ws := sharedWords(t, 1)
	errDead := errors.New("peer dead")
	var calls atomic.Int64
	opts := &atomics.WaitOptions{Poll: 5 * time.Millisecond, Check: func() error {
		if calls.Add(1) > 3 {
			return errDead
		}
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, err := range awaitAll(ctx, ws[0], 3, opts) {
		if !errors.Is(err, errDead) {
			t.Fatalf("Await = %v, want the Check's error", err)
		}
	}
}

// TestAwaitWakeStrategies: a waiter of each strategy returns once another
// goroutine changes the word.
func TestAwaitWakeStrategies(t *testing.T) {
	for _, strategy := range []atomics.Strategy{atomics.Park, atomics.Spin, atomics.Yield} {
		_, ws := sharedWords(t, 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		done := make(chan []error)
		go func() { done <- awaitAll(ctx, ws[0], 1, &atomics.WaitOptions{Strategy: strategy, Spin: -1}) }()
		ws[0].Store(9)
		atomics.Wake(ws[0], -1)
		if errs := <-done; errs[0] != nil {
			t.Fatalf("%v: Await = %v", strategy, errs[0])
		}
		cancel()
	}
	if s := atomics.Strategy(9).String(); s != "strategy(9)" {
		t.Errorf("Strategy(9).String() = %q", s)
	}
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafePointer(b)) }

// TestAwaitYieldBusyProcess: a Yield waiter gives its turn away at every
// check, and in a process whose other goroutines compute, each turn away
// lasts a scheduling slice (10 ms). Its context and its Check must still be
// seen within a few of those, not after thousands.
func TestAwaitYieldBusyProcess(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	_, ws := sharedWords(t, 1)
	var stop atomic.Bool
	hog := make(chan struct{})
	go func() { // computes until told to stop: preempted, never blocked
		defer close(hog)
		for !stop.Load() {
		}
	}()
	defer func() { stop.Store(true); <-hog }()
	errDead := errors.New("peer dead")
	for _, c := range []struct {
		name string
		opts atomics.WaitOptions
		want error
	}{
		{"deadline", atomics.WaitOptions{Strategy: atomics.Yield}, context.DeadlineExceeded},
		{"check", atomics.WaitOptions{Strategy: atomics.Yield, Poll: time.Millisecond, Check: func() error { return errDead }}, errDead},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		if c.want == errDead {
			ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
		}
		done := make(chan error, 1)
		go func() { done <- atomics.Await(ctx, ws[0], 0, &c.opts) }()
		select {
		case err := <-done:
			if !errors.Is(err, c.want) {
				t.Errorf("%s: Await = %v, want %v", c.name, err, c.want)
			}
		case <-time.After(5 * time.Second):
			ws[0].Store(1) // let it go
			<-done
			ws[0].Store(0)
			t.Errorf("%s: a Yield Await in a busy process ran 5s past its 30ms deadline or 1ms poll", c.name)
		}
		cancel()
	}
}
