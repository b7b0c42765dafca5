package value_test

import (
	"sync"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/value"
)

type pair struct{ A, B int64 }

// TestUpdateGoroutinesOneHandle: Updates from several goroutines through
// one handle (which share the copy Update reuses) lose nothing and hand fn
// a copy no other goroutine writes meanwhile (run with -race).
func TestUpdateGoroutinesOneHandle(t *testing.T) {
	p, err := value.New[pair](pair{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w, err := value.New[int64](0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const gs = 4
	n := shmtest.Iterations(t, 2000)
	var wg sync.WaitGroup
	for range gs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range n {
				got := p.Update(func(x *pair) {
					x.A++
					x.B = -x.A
				})
				if got.B != -got.A {
					t.Errorf("Update returned %+v, torn", got)
					return
				}
				w.Update(func(x *int64) { *x++ })
			}
		}()
	}
	wg.Wait()
	if got := p.Load(); got.A != int64(gs*n) || got.B != -got.A {
		t.Fatalf("pair %+v after %d Updates", got, gs*n)
	}
	if got := w.Load(); got != int64(gs*n) {
		t.Fatalf("word %d after %d Updates", got, gs*n)
	}
}
