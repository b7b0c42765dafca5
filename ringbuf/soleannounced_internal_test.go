package ringbuf

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestSoleOwnerThatSeesAnAnnouncementGoesOn: a sole claimer whose plain
// claim finds a joiner's announcement (stored after the owner's look at
// the slot, before its look at sole) claims nothing there and goes on by
// CAS, and so does the joiner. The owner's claim word, stored for the
// plain claim, must not stay at the position + 1: the joiner waits for
// it to move, and the former owner, now a joiner of its own side too,
// waited for it as well; both waited for ever (a queue's producers, one
// putting a message at a time and two putting batches, in
// TestHammerProcesses under -race).
func TestSoleOwnerThatSeesAnAnnouncementGoesOn(t *testing.T) {
	skipNoSole(t)
	for _, side := range []string{"put", "get"} {
		t.Run(side, func(t *testing.T) {
			seg, p := soleRing(t, 64)
			j := openSole(t, seg)
			buf := make([]byte, 8)
			for i := range 4 {
				if ok, err := p.TryPut([]byte{byte(i)}); !ok || err != nil {
					t.Fatalf("TryPut %d: %v, %v", i, ok, err)
				}
			}
			if _, ok, err := p.TryGet(buf); !ok || err != nil {
				t.Fatalf("TryGet: %v, %v", ok, err)
			}
			s := &p.enqSole
			if side == "get" {
				s = &p.deqSole
			}
			if !s.own {
				t.Fatalf("the %s side's first claimer does not own it", side)
			}
			s.mode.Store(s.tok | 1) // j's announcement, as join stores it, before its fence
			var stop atomic.Uint32
			x := (*mpmcX)(p)
			if side == "put" {
				if pos, slot, ok, err := x.ClaimPut(&stop); err != nil {
					t.Fatalf("ClaimPut after the announcement: %v", err)
				} else if ok {
					slot[0] = 4
					x.PublishPut(pos, 1, func() {})
				}
			} else {
				if pos, msg, ok, err := x.ClaimGet(); err != nil {
					t.Fatalf("ClaimGet after the announcement: %v", err)
				} else if ok {
					_ = msg
					x.ReleaseGet(pos, func() {})
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, h := range []*MPMC{j, p} {
				var err error
				if side == "put" {
					err = h.Put(ctx, []byte{9})
				} else {
					_, err = h.Get(ctx, buf)
				}
				if err != nil {
					who := map[*MPMC]string{j: "the joiner", p: "the former owner"}[h]
					t.Fatalf("%s by %s after the announcement: %v (the owner's claim word %d, the position %d)",
						side, who, err, p.parts.word(p.part, s.claimOff).Load(), s.pos.Load())
				}
			}
			if m := s.mode.Load(); m != soleShared {
				t.Fatalf("the %s side after both claimed: %#x, want shared", side, m)
			}
		})
	}
}
