// Sync-barrier shows a Barrier keeping three worker processes in lockstep
// through three phases (Python's multiprocessing Barrier). In phase k each
// worker w writes k*(w+1) into its own slot of a shared array; a Barrier
// wait ends the phase, worker 0 prints the slots, and a second wait keeps
// anyone from writing the next phase's values before they are printed.
//
//	def worker(barrier, slots, w):
//	    for k in range(1, 4):
//	        slots[w] = k * (w + 1)
//	        barrier.wait()
//	        if w == 0:
//	            print('phase', k, list(slots), 'sum', sum(slots))
//	        barrier.wait()
//
// Output:
//
//	phase 1: [1 2 3] sum 6
//	phase 2: [2 4 6] sum 12
//	phase 3: [3 6 9] sum 18
//	3 workers, 3 phases, arrival indices per phase: 0+1+2
package main

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

var worker = process.Register("worker", func(ctx context.Context, a args) error {
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

func main() {
	process.Main()
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
	b, err := semaphore.NewBarrier(seg, "barrier", parties)
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
