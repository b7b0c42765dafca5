package value_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/value"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

// wide is the hammer test's 64-byte T: a reader that sees fields that
// differ has seen a torn value.
type wide struct{ F [8]uint64 }

func wideOf(n uint64) wide {
	var w wide
	for i := range w.F {
		w.F[i] = n
	}
	return w
}

func (w wide) torn() bool {
	for _, f := range w.F {
		if f != w.F[0] {
			return true
		}
	}
	return false
}

// flags is how the processes of a test signal each other: shared memory,
// never sleeps.
type flags struct {
	Ready *value.Value[uint32] // children that are running
	Done  *value.Value[uint32] // set by the parent or the writer when done
}

// awaitAtLeast waits until v holds at least n, yielding, for at most a
// minute.
func awaitAtLeast(v *value.Value[uint32], n uint32) error {
	deadline := time.Now().Add(time.Minute)
	for v.Load() < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("waited a minute for %d, have %d", n, v.Load())
		}
		runtime.Gosched()
	}
	return nil
}

type hammerArgs struct {
	V      *value.Value[wide]
	F      flags
	Stores uint64
	Seen   *value.Value[uint64] // distinct values the readers saw, summed
}

var hammerWriter = process.Register("value-hammer-writer", func(ctx context.Context, a hammerArgs) error {
	if err := awaitAtLeast(a.F.Ready, 2); err != nil {
		return err
	}
	for i := uint64(1); i <= a.Stores; i++ {
		a.V.Store(wideOf(i))
	}
	a.F.Done.Store(1)
	return nil
})

var hammerReader = process.Register("value-hammer-reader", func(ctx context.Context, a hammerArgs) error {
	value.Add(a.F.Ready, 1)
	var last, distinct uint64
	for loads := 0; ; loads++ {
		done := a.F.Done.Load() == 1
		w := a.V.Load()
		if w.torn() {
			return fmt.Errorf("torn value after %d loads: %v", loads, w.F)
		}
		if w.F[0] < last {
			return fmt.Errorf("went back from %d to %d", last, w.F[0])
		}
		if w.F[0] != last {
			distinct++
			last = w.F[0]
		}
		if done {
			if last != a.Stores {
				return fmt.Errorf("after the writer finished, read %d, want %d", last, a.Stores)
			}
			value.Add(a.Seen, distinct)
			return nil
		}
	}
})

type gobArgs struct {
	Count *value.Value[int64]
	Point *value.Value[point]
	Raw   *value.RawValue[point]
}

type point struct {
	X, Y float64
	Tag  [4]byte
}

var gobWorker = process.Register("value-gob", func(ctx context.Context, a gobArgs) error {
	value.Add(a.Count, 41)
	a.Point.Update(func(p *point) { p.X++; p.Y = p.X * 2 })
	r := a.Raw.Load()
	r.Tag = [4]byte{'d', 'o', 'n', 'e'}
	a.Raw.Store(r)
	return nil
})

type crashArgs struct {
	V     *value.Value[wide]
	Ready *value.Value[uint32]
}

var crashWriter = process.Register("value-crash-writer", func(ctx context.Context, a crashArgs) error {
	if err := a.V.BeginWriteForTest(); err != nil {
		return err
	}
	a.Ready.Store(1)
	time.Sleep(time.Hour) // killed here, holding the lock with a write in progress
	return nil
})

type addArgs struct {
	Counter *value.Value[int64]
	N       int
}

var adder = process.Register("value-adder", func(ctx context.Context, a addArgs) error {
	for range a.N {
		value.Add(a.Counter, 1)
	}
	return nil
})
