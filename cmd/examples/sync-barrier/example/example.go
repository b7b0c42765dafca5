// Package example is the sync-barrier program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "sync-barrier." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/value"
)

const (
	parties = 3
	phases  = 3
)

type args struct {
	Barrier *semaphore.Barrier
	Vals    *array.Array[uint32] // the workers' values, one each
	Sum     *value.Value[uint32] // sums the arrival indices
	W       int
}

var worker = process.Register("sync-barrier.worker", func(ctx context.Context, a args) error {
	for k := 1; k <= phases; k++ {
		a.Vals.Set(a.W, uint32(k*(a.W+1)))
		idx, err := a.Barrier.WaitContext(ctx) // everyone has written phase k
		if err != nil {
			return err
		}
		value.Add(a.Sum, uint32(idx))
		if a.W == 0 {
			var vals []uint32
			sum := uint32(0)
			for i := 0; i < parties; i++ {
				v := a.Vals.At(i)
				vals = append(vals, v)
				sum += v
			}
			fmt.Printf("phase %d: %v sum %d\n", k, vals, sum)
		}
		if _, err := a.Barrier.WaitContext(ctx); err != nil { // phase k is printed
			return err
		}
	}
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	b, err := semaphore.NewBarrier(parties) // Barrier(3)
	if err != nil {
		return err
	}
	defer b.Close()
	vals, err := array.New[uint32](parties)
	if err != nil {
		return err
	}
	defer vals.Close()
	sum, err := value.New[uint32](0)
	if err != nil {
		return err
	}
	defer sum.Close()
	ctx := context.Background()
	var ps []*process.Process
	for w := 0; w < parties; w++ {
		p, err := worker.Start(ctx, args{Barrier: b, Vals: vals, Sum: sum, W: w})
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	// Take the workers as they exit: one that failed (killed before the
	// barrier, say) leaves the others waiting there for ever.
	if err := process.WaitAll(ctx, ps...); err != nil {
		return err
	}
	if sum := sum.Load(); sum == phases*(0+1+2) {
		fmt.Printf("%d workers, %d phases, arrival indices per phase: 0+1+2\n", parties, phases)
	} else {
		return fmt.Errorf("arrival indices sum to %d, want %d", sum, phases*(0+1+2))
	}
	return nil
}
