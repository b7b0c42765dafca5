package semaphore_test

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"strings"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/semaphore"
)

// panicOf runs fn and returns what it panicked with ("" when it did not).
func panicOf(fn func()) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = fmt.Sprint(v)
			if msg == "" {
				msg = "(empty panic)"
			}
		}
	}()
	fn()
	return ""
}

// TestUseAfterClose: a call on a closed handle panics, a panic the
// program can recover from, rather than work on (memory that may still be
// mapped) or fault on memory Close unmapped; GobEncode of a closed handle
// is an error, not a descriptor handed on. The decoded Mutex's attachment
// is unmapped by its Close, so its use after Close touched unmapped
// memory.
func TestUseAfterClose(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	named, err := semaphore.CreateMutex(seg, "m")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(named); err != nil {
		t.Fatal(err)
	}
	var decoded *semaphore.Mutex
	if err := gob.NewDecoder(&buf).Decode(&decoded); err != nil {
		t.Fatal(err)
	}
	m, err := semaphore.NewMutex()
	if err != nil {
		t.Fatal(err)
	}
	rw, err := semaphore.NewRWMutex()
	if err != nil {
		t.Fatal(err)
	}
	s, err := semaphore.NewSemaphore(1)
	if err != nil {
		t.Fatal(err)
	}
	e, err := semaphore.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	c, err := semaphore.NewCond()
	if err != nil {
		t.Fatal(err)
	}
	b, err := semaphore.NewBarrier(1)
	if err != nil {
		t.Fatal(err)
	}
	handles := []interface {
		Close() error
		GobEncode() ([]byte, error)
	}{decoded, m, rw, s, e, c, b}
	for _, h := range handles {
		if err := h.Close(); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
	}
	calls := map[string]func(){
		"decoded Mutex Lock": func() { decoded.Lock() },
		"Mutex Lock":         func() { m.Lock() },
		"Mutex TryLock":      func() { m.TryLock() },
		"RWMutex RLock":      func() { rw.RLock() },
		"Semaphore Release":  func() { s.Release(1) },
		"Event Set":          func() { e.Set() },
		"Cond Signal":        func() { c.Signal() },
		"Barrier Wait":       func() { b.Wait() },
	}
	for name, call := range calls {
		if msg := panicOf(call); msg == "" {
			t.Errorf("%s after Close did not panic", name)
		}
	}
	for _, h := range handles {
		if _, err := h.GobEncode(); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("GobEncode of a closed %T = %v, want an error saying it is closed", h, err)
		}
	}
}
