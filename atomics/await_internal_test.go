package atomics

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestCancelWakeAfterLeave: the wake that a context.AfterFunc runs for a
// cancelled sleeper may start after the sleeper has returned and its
// caller has unmapped the word. A futex wake there fails and Wake panics;
// cancelWake must not make that call once the sleeper has left.
func TestCancelWakeAfterLeave(t *testing.T) {
	mem, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	w := MustUint32At(mem, 0)
	c := &cancelWake{w: w}
	c.wake() // the word is mapped: a wake of nobody
	c.leave()
	if err := unix.Munmap(mem); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Wake on an unmapped word did not panic: the hazard this test guards against is gone, re-check it")
			}
		}()
		Wake(w, -1)
	}()
	c.wake() // after leave: must not touch the word
}
