package semaphore_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// flags is a block of shared words that tests and their children use to
// signal readiness and to count, allocated as a plain object in the test
// segment. It travels to children as segment + object name.
type flags struct {
	Seg  *shm.Segment
	Name string
	mem  []byte
}

const flagWords = 16

func newFlags(t testing.TB, seg *shm.Segment, name string) *flags {
	t.Helper()
	o, err := seg.Alloc(name, shm.ObjectSpec{BodySize: flagWords * 64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &flags{Seg: seg, Name: name, mem: o.Body}
}

// attach maps the flags in a child.
func (f *flags) attach() {
	if f.mem != nil {
		return
	}
	o, err := f.Seg.Lookup(f.Name, nil)
	if err != nil {
		panic(err)
	}
	f.mem = o.Body
}

// word i (each on its own cache line).
func (f *flags) u32(i int) *atomic.Uint32 { f.attach(); return atomics.MustUint32At(f.mem, i*64) }
func (f *flags) u64(i int) *atomic.Uint64 { f.attach(); return atomics.MustUint64At(f.mem, i*64+8) }

// signal sets word i to v and wakes its waiters.
func (f *flags) signal(i int, v uint32) {
	w := f.u32(i)
	w.Store(v)
	atomics.Wake(w, -1)
}

// await blocks until word i is at least v, or fails the test after d.
// recoverWithin bounds the waits of the crash tests that must end well (a
// survivor taking a dead holder's lock, a woken waiter signalling): they
// end in a poll period or two, but a loaded machine can stall a process
// for seconds, and the bound is only there so that a real hang fails.
const recoverWithin = 20 * time.Second

func (f *flags) await(t testing.TB, i int, v uint32, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	w := f.u32(i)
	for {
		old := w.Load()
		if old >= v {
			return
		}
		if err := atomics.Await(ctx, w, old, nil); err != nil {
			t.Fatalf("waiting for flag %d >= %d (at %d): %v", i, v, old, err)
		}
	}
}

// awaitChild is await for children: it blocks until word i is at least v.
func (f *flags) awaitChild(ctx context.Context, i int, v uint32) error {
	w := f.u32(i)
	for {
		old := w.Load()
		if old >= v {
			return nil
		}
		if err := atomics.Await(ctx, w, old, nil); err != nil {
			return err
		}
	}
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitAll(t testing.TB, ps []*process.Process) {
	t.Helper()
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			t.Errorf("%s: %v", p.Name(), err)
		}
	}
}
