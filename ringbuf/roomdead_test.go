package ringbuf_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/ringbuf"
	"github.com/shmkit/shmkit/shm"
)

type headHolderArgs struct {
	M    *ringbuf.MPMC
	Flag *shm.Segment
}

// headHolderW takes the ring's head message and holds it (it is killed
// inside GetFunc's use, before the slot is given back).
var headHolderW = process.Register("ringbuf-head-holder", func(ctx context.Context, a headHolderArgs) error {
	return a.M.GetFunc(ctx, func([]byte) {
		signal(a.Flag, 1)
		select {}
	})
})

// TestKillConsumerHoldingHead: a full ring whose head slot is held by a
// consumer killed inside GetFunc while the slots after it were given
// back (by a consumer that then closed) has no live consumer left: a
// blocked PutFunc and PutBatchFunc get ErrPeerDead, as on a ring whose
// every slot is full. The slots past the head look free (a producer
// waiting for room for a run sees them so), but no Put can claim them
// before the head: the wait must still reach the poll's rescue.
func TestKillConsumerHoldingHead(t *testing.T) {
	for _, capacity := range []int{8, 64} {
		seg := shmtest.Segment(t, 1<<20)
		flag := shmtest.Segment(t, 64)
		m, err := ringbuf.NewMPMC(seg, "m", capacity, 8, ringbuf.WithPoll(5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		for i := range capacity {
			if ok, err := m.TryPut([]byte{byte(i)}); !ok || err != nil {
				t.Fatalf("TryPut %d: %v %v", i, ok, err)
			}
		}
		p, err := headHolderW.Start(context.Background(), headHolderArgs{M: m, Flag: flag})
		if err != nil {
			t.Fatal(err)
		}
		awaitFlag(t, flag, 1)
		c, err := ringbuf.OpenMPMC(seg, "m")
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < capacity; i++ {
			if _, ok, err := c.TryGet(make([]byte, 8)); !ok || err != nil {
				t.Fatalf("TryGet %d: %v %v", i, ok, err)
			}
		}
		c.Close()
		p.Kill()
		p.Wait()

		ctx := ctxT(t, shmtest.Timeout(t, 20*time.Second))
		if err := m.PutFunc(ctx, func(slot []byte) int { return 1 }); !errors.Is(err, ringbuf.ErrPeerDead) {
			t.Fatalf("capacity %d: PutFunc: %v, want ErrPeerDead", capacity, err)
		}
		n, err := m.PutBatchFunc(ctx, capacity, func(i int, slot []byte) int { return 1 })
		if n != 0 || !errors.Is(err, ringbuf.ErrPeerDead) {
			t.Fatalf("capacity %d: PutBatchFunc: %d, %v, want ErrPeerDead", capacity, n, err)
		}
	}
}
