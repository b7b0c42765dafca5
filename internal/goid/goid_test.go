package goid_test

import (
	"testing"

	"github.com/shmkit/shmkit/internal/goid"
)

func TestID(t *testing.T) {
	me := goid.ID()
	if me == 0 || goid.ID() != me {
		t.Fatalf("ID = %d, then %d", me, goid.ID())
	}
	other := make(chan uint64)
	go func() { other <- goid.ID() }()
	if o := <-other; o == me || o == 0 {
		t.Fatalf("another goroutine's ID = %d, ours %d", o, me)
	}
}

// G is the same within a goroutine, and differs between goroutines that
// are alive at the same time.
func TestG(t *testing.T) {
	if !goid.HasG {
		t.Skip("G is not wired up on this architecture")
	}
	me := goid.G()
	if me == 0 || goid.G() != me {
		t.Fatalf("G = %#x, then %#x", me, goid.G())
	}
	const n = 8
	gs := make(chan uintptr, n)
	release := make(chan struct{})
	for i := 0; i < n; i++ {
		go func() {
			gs <- goid.G()
			<-release // alive until every G is read
		}()
	}
	seen := map[uintptr]bool{me: true}
	for i := 0; i < n; i++ {
		g := <-gs
		if g == 0 || seen[g] {
			t.Fatalf("G %#x of a live goroutine is 0 or another's", g)
		}
		seen[g] = true
	}
	close(release)
}
