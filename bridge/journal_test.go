package bridge

import (
	"errors"
	"testing"

	"github.com/shmkit/shmkit/shm"
)

// TestJournalCorrupt: a journal whose held entry is garbage is refused
// with ErrCorrupt by every Send that opens it, never panics, and is not
// left owned by the process that refused it (which would answer the next
// try with ErrBusy and hide the damage).
func TestJournalCorrupt(t *testing.T) {
	seg, err := shm.CreateAnon(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	j, err := openJournal(seg, "bridge.q", 4, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.record(1, []byte("12345678")); err != nil {
		t.Fatal(err)
	}
	j.heads[1].length.Store(1 << 20) // beyond the entry
	j.release()
	for try := range 2 {
		if _, err := openJournal(seg, "bridge.q", 4, 8); !errors.Is(err, ErrCorrupt) {
			t.Errorf("open %d = %v, want ErrCorrupt", try, err)
		}
	}
}
