package pipe

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFreedBlockWakesEitherSender: a duplex pipe's two directions share
// one arena, so a block freed at either end is room for either end's
// sender of a large message. A block freed by end 0's receive (of end 1's
// message) woke only end 1's sender, on the space event of the ring it
// read; a block freed by end 1's send that failed after placing its
// message (its ring full, its context done) woke nobody. End 0's sender,
// asleep for arena room on its own space event, slept on until its poll,
// 50 ms later. The sleeper is the sleep bit of that event, set by hand;
// the wake is that bit cleared.
func TestFreedBlockWakesEitherSender(t *testing.T) {
	big := make([]byte, 32<<10) // out of line: over the ring's largest record
	frees := map[string]func(t *testing.T, a, b *Conn[[]byte], canceled context.Context){
		"Recv": func(t *testing.T, a, b *Conn[[]byte], canceled context.Context) {
			if _, err := a.RecvBytes(context.Background()); err != nil {
				t.Fatal(err)
			}
		},
		"SendFailed": func(t *testing.T, a, b *Conn[[]byte], canceled context.Context) {
			// Room for the block now, none in end 1's ring.
			if _, err := a.RecvBytes(context.Background()); err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{512, 1} {
				for i := 0; ; i++ {
					err := b.SendBytes(canceled, make([]byte, n))
					if errors.Is(err, context.Canceled) {
						break
					}
					if err != nil || i == 1<<14 {
						t.Fatalf("filling end 1's ring: %d sent, %v", i, err)
					}
				}
			}
			seq := a.ctl.space[a.end].Seq
			asleep := seq.Load() | 1
			seq.Store(asleep) // end 0's sender asleep for arena room, again
			if err := b.SendBytes(canceled, big); !errors.Is(err, context.Canceled) {
				t.Fatalf("end 1's large send with its ring full: %v, want context.Canceled", err)
			}
		},
	}
	for name, free := range frees {
		t.Run(name, func(t *testing.T) {
			a, b, err := New(Options[[]byte]{Capacity: 16 << 10, MaxMessage: 32 << 10})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			defer b.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			canceled, stop := context.WithCancel(ctx)
			stop() // a send that finds no room fails at once
			sent := 0
			for ; sent < 64; sent++ {
				if err := b.SendBytes(canceled, big); err != nil {
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("filling the arena: %v", err)
					}
					break
				}
			}
			if sent == 0 || sent == 64 {
				t.Fatalf("end 1 sent %d large messages before the arena was full", sent)
			}
			if err := a.SendBytes(canceled, big); !errors.Is(err, context.Canceled) {
				t.Fatalf("end 0's large send with the arena full: %v, want context.Canceled", err)
			}
			seq := a.ctl.space[a.end].Seq
			asleep := seq.Load() | 1
			seq.Store(asleep) // end 0's sender asleep for arena room
			free(t, a, b, canceled)
			if seq.Load() == asleep {
				t.Error("a block of the arena was freed and no sender of end 0 woken")
			}
			if err := a.SendBytes(canceled, big); err != nil {
				t.Fatalf("end 0's large send after the free: %v", err)
			}
		})
	}
}
