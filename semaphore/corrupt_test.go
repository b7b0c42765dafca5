package semaphore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
)

// TestBarrierCorruptLock: a Barrier whose lock word names a live process
// that is no party (this one, as a peer's stray write could make it) does
// not make Abort or Wait (nor Reset, which enters as they do) wait for ever: they give up with an error
// matching ErrBroken and ErrCorrupt.
func TestBarrierCorruptLock(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	b, err := semaphore.CreateBarrier(seg, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(seg.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lock := seg.Objects()[0].Offset + shm.ObjectHeaderSize // the Barrier's Mutex state word
	if _, err := f.WriteAt(binary.LittleEndian.AppendUint32(nil, uint32(os.Getpid())), lock); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, semaphore.ErrBroken) || !errors.Is(err, semaphore.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrBroken and ErrCorrupt", what, err)
		}
	}
	check("Abort", b.Abort())
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	_, err = b.WaitContext(ctx)
	check("Wait", err)
}
