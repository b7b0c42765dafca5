package ringbuf

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/membarrier"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// skipNoSole skips a test of the sole claimer where this process cannot
// be one (membarrier refused).
func skipNoSole(t *testing.T) {
	t.Helper()
	if !membarrier.Await() {
		t.Skip("membarrier(2) refused here: no side has a sole claimer")
	}
}

// soleRing makes an MPMC ring of n slots of 8 bytes in a segment of its own.
func soleRing(t *testing.T, n int) (*shm.Segment, *MPMC) {
	t.Helper()
	seg := shmtest.Segment(t, 1<<20)
	r, err := NewMPMC(seg, "r", n, 8, WithProducers(8))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return seg, r
}

func openSole(t *testing.T, seg *shm.Segment) *MPMC {
	t.Helper()
	h, err := OpenMPMC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// TestSoleClaimerTakesAndSharesASide: the first handle to claim on a side
// becomes its sole claimer; a second handle's claim makes the side shared
// (and the first stops claiming plainly); a sole claimer that closes gives
// the side up for the next.
func TestSoleClaimerTakesAndSharesASide(t *testing.T) {
	skipNoSole(t)
	seg, p := soleRing(t, 64)
	c := openSole(t, seg)
	buf := make([]byte, 8)
	for i := 0; i < 3; i++ {
		if ok, err := p.TryPut([]byte{byte(i)}); !ok || err != nil {
			t.Fatalf("TryPut %d: %v, %v", i, ok, err)
		}
	}
	if !p.enqSole.own || p.enqSole.mode.Load() != p.enqSole.tok {
		t.Fatalf("producer after its Puts: own %v, enqSole %#x, want its token %#x", p.enqSole.own, p.enqSole.mode.Load(), p.enqSole.tok)
	}
	if _, ok, err := c.TryGet(buf); !ok || err != nil {
		t.Fatalf("TryGet: %v, %v", ok, err)
	}
	if !c.deqSole.own || c.deqSole.mode.Load() != c.deqSole.tok {
		t.Fatalf("consumer after its Get: own %v, deqSole %#x, want its token %#x", c.deqSole.own, c.deqSole.mode.Load(), c.deqSole.tok)
	}
	c2 := openSole(t, seg)
	if _, ok, err := c2.TryGet(buf); !ok || err != nil || buf[0] != 1 {
		t.Fatalf("second consumer's TryGet: %v, %v, message %d; want message 1", ok, err, buf[0])
	}
	if m := c.deqSole.mode.Load(); m != soleShared || c2.deqSole.own {
		t.Fatalf("after a second consumer's Get: deqSole %#x, its own %v; want shared", m, c2.deqSole.own)
	}
	if _, ok, err := c.TryGet(buf); !ok || err != nil || buf[0] != 2 {
		t.Fatalf("first consumer's TryGet after the join: %v, %v, message %d; want message 2", ok, err, buf[0])
	}
	if c.deqSole.own {
		t.Fatal("the first consumer still claims plainly after the side was shared")
	}
	// The producers' side is still the first producer's: it gives it up
	// when it closes, and the next producer takes it.
	p2 := openSole(t, seg)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if m := p2.enqSole.mode.Load(); m != 0 {
		t.Fatalf("enqSole %#x after its sole claimer closed, want 0", m)
	}
	if ok, err := p2.TryPut([]byte{3}); !ok || err != nil {
		t.Fatalf("TryPut after the close: %v, %v", ok, err)
	}
	if !p2.enqSole.own {
		t.Fatal("the next producer did not become the sole claimer of a side given up")
	}
}

// TestSoleClaimerJoinedMidStream: many fresh rings, each streamed by a
// sole producer to a sole consumer, joined at whatever moment the
// scheduler gives by a second producer and a second consumer, so that the
// announcement lands anywhere in the sole claimers' windows. Every message
// must arrive exactly once: a joiner's CAS beside a sole claimer's plain
// store would deliver a slot twice or lose one.
func TestSoleClaimerJoinedMidStream(t *testing.T) {
	skipNoSole(t)
	// Hold every 16th plain claim across a yield between its look and its
	// store, so that a joiner that did not wait for it would claim beside
	// it.
	var calls atomic.Int64
	soleWindowHook = func() {
		if calls.Add(1)%16 == 0 {
			runtime.Gosched()
		}
	}
	defer func() { soleWindowHook = nil }()
	rings, per := shmtest.Iterations(t, 40), 4000
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 120*time.Second))
	defer cancel()
	for k := 0; k < rings; k++ {
		seg, p1 := soleRing(t, 256)
		p2, c1, c2 := openSole(t, seg), openSole(t, seg), openSole(t, seg)
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			seen  = map[uint64]int{}
			errs  = make(chan error, 4)
			start = make(chan struct{})
			total = 2 * per
		)
		put := func(h *MPMC, id uint64, wait bool) {
			defer wg.Done()
			if wait {
				<-start
			}
			var b [8]byte
			for i := 0; i < per; i++ {
				binary.LittleEndian.PutUint64(b[:], id<<32|uint64(i))
				if err := h.Put(ctx, b[:]); err != nil {
					errs <- fmt.Errorf("put %d/%d: %w", id, i, err)
					return
				}
				if id == 1 && i == per/8 {
					close(start) // the joiners come now, while the sole claimers stream
				}
			}
		}
		// Each consumer gets its quota, so that both claim: the second
		// at least a quarter of one producer's stream.
		get := func(h *MPMC, quota int, wait bool) {
			defer wg.Done()
			if wait {
				<-start
			}
			b := make([]byte, 8)
			for i := 0; i < quota; i++ {
				if _, err := h.Get(ctx, b); err != nil {
					errs <- fmt.Errorf("get: %w", err)
					return
				}
				mu.Lock()
				seen[binary.LittleEndian.Uint64(b)]++
				mu.Unlock()
			}
		}
		wg.Add(4)
		go put(p1, 1, false)
		go get(c1, total-per/4, false)
		go put(p2, 2, true)
		go get(c2, per/4, true)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("ring %d: %v", k, err)
		}
		if len(seen) != total {
			t.Fatalf("ring %d: %d distinct messages of %d", k, len(seen), total)
		}
		for m, n := range seen {
			if n != 1 {
				t.Fatalf("ring %d: message %#x delivered %d times", k, m, n)
			}
		}
		if e, d := p1.enqSole.mode.Load(), p1.deqSole.mode.Load(); e != soleShared || d != soleShared {
			t.Fatalf("ring %d: sides %#x and %#x after the joins, want both shared", k, e, d)
		}
	}
}

type soleDieArgs struct {
	R    *MPMC
	Flag *shm.Segment
}

// soleDieW becomes the consumers' sole claimer of R (one Get), says so in
// Flag, and waits to be killed.
var soleDieW = process.Register("ringbuf-sole-die", func(ctx context.Context, a soleDieArgs) error {
	if !membarrier.Await() {
		return fmt.Errorf("membarrier refused in the child")
	}
	if _, err := a.R.Get(ctx, make([]byte, 8)); err != nil {
		return err
	}
	if !a.R.deqSole.own {
		return fmt.Errorf("the child is not the consumers' sole claimer")
	}
	return holdForKill(a.Flag)
})

// TestSoleClaimerDiedMidClaim: a consumers' sole claimer killed between
// its claim store and its store of the position (the claim word left at
// the position + 1, as its death there leaves it) holds nobody up: the
// next consumer finds it gone, shares the side and gets the message.
func TestSoleClaimerDiedMidClaim(t *testing.T) {
	skipNoSole(t)
	seg, p := soleRing(t, 64)
	flag := shmtest.Segment(t, 64)
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 30*time.Second))
	defer cancel()
	for i := 0; i < 2; i++ {
		if err := p.Put(ctx, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	child, err := soleDieW.Start(ctx, soleDieArgs{R: p, Flag: flag})
	if err != nil {
		t.Fatal(err)
	}
	fw := atomics.MustUint32At(flag.Bytes(), 0)
	for fw.Load() == 0 {
		if err := atomics.Await(ctx, fw, 0, nil); err != nil {
			t.Fatalf("the child did not become the sole claimer: %v (%v)", err, child.Wait())
		}
	}
	owner := p.deqSole.mode.Load()
	if owner == 0 || owner&1 != 0 {
		t.Fatalf("deqSole %#x while the child owns the side", owner)
	}
	i := int(owner>>1&0xff) - 1
	p.parts.word(i, partOffDeqClaim).Store(p.deq.Load() + 1) // as its death inside a claim leaves it
	child.Kill()
	child.Wait()
	c := openSole(t, seg)
	buf := make([]byte, 8)
	if _, err := c.Get(ctx, buf); err != nil || buf[0] != 1 {
		t.Fatalf("Get after the sole claimer died in its window: message %d, %v; want message 1", buf[0], err)
	}
	if m := p.deqSole.mode.Load(); m != soleShared {
		t.Fatalf("deqSole %#x after the join, want shared", m)
	}
}
