package array_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/array"
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

// TestUseAfterClose: every call on an Array or RawArray after its Close
// panics with an "array:" message that says so, rather than touch memory
// that may be unmapped (the arrays here are big enough to have heap
// segments of their own, which Close unmaps) or answer as an empty array.
func TestUseAfterClose(t *testing.T) {
	const n = 4096 // 32 KiB of int64: a heap segment of its own
	a, err := array.New[int64](n)
	if err != nil {
		t.Fatal(err)
	}
	r, err := array.NewRaw[int64](n)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]int64, 4)
	calls := map[string]func(){
		"At":        func() { a.At(1) },
		"AtContext": func() { a.AtContext(context.Background(), 1) },
		"Set":       func() { a.Set(1, 2) },
		"CopyTo":    func() { a.CopyTo(buf) },
		"CopyFrom":  func() { a.CopyFrom(buf) },
		"With":      func() { a.With(func([]int64) {}) },
		"Lock":      func() { a.Lock() },
		"All": func() {
			for range a.All() {
			}
		},
		"ReadAt":            func() { a.ReadAt(make([]byte, 8), 0) },
		"WriteAt":           func() { a.WriteAt(make([]byte, 8), 0) },
		"RawArray At":       func() { r.At(1) },
		"RawArray Set":      func() { r.Set(1, 2) },
		"RawArray CopyTo":   func() { r.CopyTo(buf) },
		"RawArray CopyFrom": func() { r.CopyFrom(buf) },
		"RawArray All": func() {
			for range r.All() {
			}
		},
		"RawArray ReadAt":  func() { r.ReadAt(make([]byte, 8), 0) },
		"RawArray WriteAt": func() { r.WriteAt(make([]byte, 8), 0) },
	}
	for name, call := range calls {
		msg := closedPanic(call)
		if !strings.HasPrefix(msg, "array: ") || !strings.Contains(msg, "closed") {
			t.Errorf("%s after Close: panic %q, want an \"array: ... closed\" one", name, msg)
		}
	}
	if _, err := a.GobEncode(); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("GobEncode after Close = %v, want an error saying the Array is closed", err)
	}
}
