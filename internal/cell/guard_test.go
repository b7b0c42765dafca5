package cell

import (
	"fmt"
	"testing"

	"github.com/shmkit/shmkit/shm"
)

// guardRecords counts the lock words this process keeps Guard records
// for.
func guardRecords() int {
	guardMu.Lock()
	defer guardMu.Unlock()
	return len(guardIDs)
}

// TestGuardRecordsGoWithTheirGuard: a Guard's record of its goroutine is
// kept for as long as the lock is held through it, not for the life of
// the process: a service that makes, locks and closes cells at fresh
// addresses must not grow a record per address for ever.
func TestGuardRecordsGoWithTheirGuard(t *testing.T) {
	before := guardRecords()
	var segs []*shm.Segment
	defer func() {
		for _, s := range segs {
			s.Close()
		}
	}()
	for i := 0; i < 50; i++ {
		seg, err := shm.CreateAnon(1 << 16) // kept open: each cell at an address of its own
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, seg)
		c, err := Create(seg, fmt.Sprint("c", i), Spec{Kind: shm.KindValue, Type: shm.TypeID{Size: 8, Align: 8}}, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !c.Guard("test") {
			t.Fatal("Guard failed")
		}
		if !c.guardHeld() {
			t.Fatal("no record of the Guard while it holds the lock")
		}
		c.Unguard()
	}
	if n := guardRecords() - before; n != 0 {
		t.Fatalf("%d Guard records left after 50 cells were locked and unlocked through Guard, want 0", n)
	}
}
