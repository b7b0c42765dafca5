package array_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/value"
)

func TestMain(m *testing.M) {
	process.Main()
	os.Exit(m.Run())
}

type negateArgs struct {
	A   *array.Array[int32]
	Raw *array.RawArray[float64]
	B   *array.Array[byte]
}

// negate is Python's docs example: the child negates every element.
var negate = process.Register("array-negate", func(ctx context.Context, a negateArgs) error {
	a.A.With(func(s []int32) {
		for i := range s {
			s[i] = -s[i]
		}
	})
	for i, x := range a.Raw.All() {
		a.Raw.Set(i, x*2)
	}
	_, err := a.B.WriteAt([]byte("child"), 6)
	return err
})

type hammerArgs struct {
	A      *array.Array[uint64]
	Ready  *value.Value[uint32]
	Done   *value.Value[uint32]
	Writes uint64
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

var hammerWriter = process.Register("array-hammer-writer", func(ctx context.Context, a hammerArgs) error {
	if err := awaitAtLeast(a.Ready, 1); err != nil {
		return err
	}
	for i := uint64(1); i <= a.Writes; i++ {
		if i%2 == 0 {
			a.A.With(func(s []uint64) {
				for j := range s {
					s[j] = i
				}
			})
		} else {
			a.A.CopyFrom(uniform(a.A.Len(), i))
		}
	}
	a.Done.Store(1)
	return nil
})

var hammerReader = process.Register("array-hammer-reader", func(ctx context.Context, a hammerArgs) error {
	value.Add(a.Ready, 1)
	buf := make([]uint64, a.A.Len())
	for {
		done := a.Done.Load() == 1
		a.A.CopyTo(buf)
		for _, x := range buf {
			if x != buf[0] {
				return fmt.Errorf("torn copy: %d and %d in one snapshot", buf[0], x)
			}
		}
		if done {
			if buf[0] != a.Writes {
				return fmt.Errorf("final snapshot holds %d, want %d", buf[0], a.Writes)
			}
			return nil
		}
	}
})

func uniform(n int, x uint64) []uint64 {
	s := make([]uint64, n)
	for i := range s {
		s[i] = x
	}
	return s
}
