package array_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/shmtest"
)

func panicOf(fn func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	fn()
	return ""
}

// "with a.get_lock(): a[0] += 1" translated literally (a.Lock(), then
// a.Set) waits for the lock its own goroutine holds: Set panics, naming
// the fix, instead of hanging. So does a Set inside With's fn.
func TestLiteralGetLockTranslationPanics(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	a, err := array.CreateFrom(seg, "a", []int32{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	l := a.Lock()
	msg := panicOf(func() { a.Set(0, a.At(0)+1) })
	if !strings.HasPrefix(msg, "array: Set") || !strings.Contains(msg, "not re-entrant") {
		t.Errorf("Set under the same process's Lock: panic %q, want one that names the fix", msg)
	}
	l.Set(0, l.At(0)+1)
	l.Unlock()
	if got := a.At(0); got != 2 {
		t.Fatalf("after l.Set: %d, want 2", got)
	}
	a.With(func(s []int32) { s[1] += 10 })
	if got := a.At(1); got != 12 {
		t.Fatalf("after With: %d, want 12", got)
	}
	if msg := panicOf(func() { l.Set(0, 1) }); !strings.HasPrefix(msg, "array: Set of a Locked after its Unlock") {
		t.Errorf("Set after Unlock: panic %q", msg)
	}
}
