package semaphore_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"runtime"
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

// TestBarrierCorruptLockBreaks: a Wait that gives up on a Barrier whose
// lock stays held (its word garbage naming a live process, here this one)
// reports ErrBroken, and so breaks the barrier for the party already
// waiting, which would otherwise wait for ever for a party that was told
// the barrier is broken and will not come. Before, the barrier stayed
// unbroken and the first party waited on.
func TestBarrierCorruptLockBreaks(t *testing.T) {
	semaphore.SetBarrierEnterWait(t, 50*time.Millisecond)
	seg := shmtest.Segment(t, 1<<16)
	b, err := semaphore.CreateBarrier(seg, "b", 2)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, err := b.Wait()
		first <- err
	}()
	for b.Waiting() != 1 { // the first party has arrived and let the lock go
		runtime.Gosched()
	}
	lock := semaphore.BarrierLock(b)
	lock.Lock() // held from now on, as a garbage word naming this process
	_, err = b.Wait()
	if !errors.Is(err, semaphore.ErrBroken) || !errors.Is(err, semaphore.ErrCorrupt) {
		t.Errorf("second party's Wait: %v, want ErrBroken and ErrCorrupt", err)
	}
	select {
	case err := <-first:
		if !errors.Is(err, semaphore.ErrBroken) {
			t.Errorf("first party's Wait: %v, want ErrBroken", err)
		}
	case <-time.After(shmtest.Timeout(t, 10*time.Second)):
		t.Errorf("the first party still waits on a barrier the second was told is broken (Broken: %v)", b.Broken())
		lock.Unlock()
		b.Abort()
		<-first
		return
	}
	lock.Unlock()
}
