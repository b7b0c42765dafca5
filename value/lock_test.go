package value_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/value"
)

// panicOf runs fn and returns what it panicked with, "" if it did not.
func panicOf(fn func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	fn()
	return ""
}

// Python's "with v.get_lock(): v.value += 1" translated literally waits
// for the lock its own goroutine holds: Store panics, naming the fix,
// instead of hanging for ever. So does a Store inside Update's fn.
func TestLiteralGetLockTranslationPanics(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	v, err := value.Create[int64](seg, "v", 1)
	if err != nil {
		t.Fatal(err)
	}
	l := v.Lock()
	msg := panicOf(func() { v.Store(v.Load() + 1) })
	if !strings.HasPrefix(msg, "value: Store") || !strings.Contains(msg, "l.Store(l.Load()+1)") {
		t.Errorf("Store under the same process's Lock: panic %q, want one that names the fix", msg)
	}
	l.Store(l.Load() + 1)
	l.Unlock()
	if got := v.Load(); got != 2 {
		t.Fatalf("after l.Store: %d, want 2", got)
	}

	if got := v.Update(func(p *int64) { *p += 10 }); got != 12 {
		t.Fatalf("Update: %d, want 12", got)
	}

	if msg := panicOf(l.Unlock); !strings.HasPrefix(msg, "value: Unlock of a Locked after its Unlock") {
		t.Errorf("second Unlock: panic %q", msg)
	}
}
