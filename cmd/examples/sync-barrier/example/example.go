// Package example is the sync-barrier program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "sync-barrier." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

const (
	parties = 3
	phases  = 3
)

type args struct {
	Barrier *semaphore.Barrier
	Seg     *shm.Segment
	W       int
}

// slot returns word i of the shared "slots" object: 0..parties-1 are the
// workers' values, parties sums the arrival indices.
func (a args) slot(i int) *atomic.Uint32 {
	o, err := a.Seg.Lookup("slots", nil)
	if err != nil {
		panic(err)
	}
	return atomics.MustUint32At(o.Body, 4*i)
}

var worker = process.Register("sync-barrier.worker", func(ctx context.Context, a args) error {
	for k := 1; k <= phases; k++ {
		a.slot(a.W).Store(uint32(k * (a.W + 1)))
		idx, err := a.Barrier.WaitContext(ctx) // everyone has written phase k
		if err != nil {
			return err
		}
		a.slot(parties).Add(uint32(idx))
		if a.W == 0 {
			var vals []uint32
			sum := uint32(0)
			for i := 0; i < parties; i++ {
				v := a.slot(i).Load()
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
	seg, err := shm.Create(fmt.Sprintf("sync-barrier-%d", os.Getpid()), 1<<16)
	if err != nil {
		return err
	}
	defer seg.Close()
	defer seg.Unlink()
	b, err := semaphore.CreateBarrier(seg, "barrier", parties)
	if err != nil {
		return err
	}
	if _, err := seg.Alloc("slots", shm.ObjectSpec{BodySize: 4 * (parties + 1)}, nil); err != nil {
		return err
	}
	ctx := context.Background()
	var ps []*process.Process
	for w := 0; w < parties; w++ {
		p, err := worker.Start(ctx, args{Barrier: b, Seg: seg, W: w})
		if err != nil {
			return err
		}
		ps = append(ps, p)
	}
	for _, p := range ps {
		if err := p.Wait(); err != nil {
			return err
		}
	}
	sum := args{Seg: seg}.slot(parties).Load()
	if sum == phases*(0+1+2) {
		fmt.Printf("%d workers, %d phases, arrival indices per phase: 0+1+2\n", parties, phases)
	} else {
		fmt.Printf("arrival indices sum to %d, want %d\n", sum, phases*(0+1+2))
	}
	return nil
}
