package value_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/value"
)

// closedPanic runs fn and returns the message of its panic: "" when it
// did not panic.
func closedPanic(fn func()) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = fmt.Sprint(v)
		}
	}()
	fn()
	return ""
}

// big is a T too large to share a heap segment: its Value gets a segment
// of its own, which Close unmaps, so that a use after Close would touch
// unmapped memory.
type big struct{ F [4096]int64 }

// TestUseAfterClose: every call on a Value or RawValue after its Close
// panics with a "value:" message that says so, rather than read memory
// that may be unmapped (a fault the program cannot recover from) or,
// worse, memory that still is.
func TestUseAfterClose(t *testing.T) {
	word, err := value.New[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	w32, err := value.New[uint32](1)
	if err != nil {
		t.Fatal(err)
	}
	wide, err := value.New(big{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := value.NewRaw(big{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() error }{word, w32, wide, raw} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	calls := map[string]func(){
		"Load":              func() { word.Load() },
		"Store":             func() { word.Store(2) },
		"Update":            func() { word.Update(func(p *int64) { *p++ }) },
		"Lock":              func() { word.Lock() },
		"Add":               func() { value.Add(word, 1) },
		"Swap":              func() { value.Swap(word, 1) },
		"CompareAndSwap":    func() { value.CompareAndSwap(word, 1, 2) },
		"Add of a uint32":   func() { value.Add(w32, 1) },
		"Load of a uint32":  func() { w32.Load() },
		"Load of a big T":   func() { wide.Load() },
		"LoadInto":          func() { var x big; wide.LoadInto(&x) },
		"Store of a big T":  func() { wide.Store(big{}) },
		"Update of a big T": func() { wide.Update(func(*big) {}) },
		"RawValue Load":     func() { raw.Load() },
		"RawValue Store":    func() { raw.Store(big{}) },
	}
	for name, call := range calls {
		msg := closedPanic(call)
		if !strings.HasPrefix(msg, "value: ") || !strings.Contains(msg, "closed") {
			t.Errorf("%s after Close: panic %q, want a \"value: ... closed\" one", name, msg)
		}
	}
	if _, err := word.GobEncode(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("GobEncode after Close = %v, want an error saying the Value is closed", err)
	}
}

// TestStoreDoesNotAllocate: Store and Update take the lock without an
// allocation (a wait for a lock held elsewhere used to make a context
// with a timer, 4 allocations), and Update hands fn a copy it reuses
// (one that escapes to fn would be allocated at every call).
func TestStoreDoesNotAllocate(t *testing.T) {
	word, err := value.New[int64](1)
	if err != nil {
		t.Fatal(err)
	}
	defer word.Close()
	wide, err := value.New(big{})
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	var x big
	for name, fn := range map[string]func(){
		"Store of an int64":  func() { word.Store(2) },
		"Store of a big T":   func() { x.F[0]++; wide.Store(x) },
		"Update of an int64": func() { word.Update(increment) },
		"Update of a big T":  func() { wide.Update(func(p *big) { p.F[1]++ }) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocations a call, want 0", name, n)
		}
	}
}
