package ringbuf

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/internal/sleepslice"
)

// TestCloseWriteWakesSlotWaiter: an MPSC producer whose first Write finds
// every producer slot held, one by a live handle and one by a dead
// producer whose claim the consumer has not passed (errSlotPending), waits
// for a slot. The live handle's CloseWrite frees its slot, and the waiter
// must take it then, not at its next poll (a minute here). CloseWrite
// wakes the waiters before it frees the slot (a Write of its own handle
// waiting for room holds the lock it needs); the hook holds it there until
// the waiter has looked again, found the slot still held and gone back to
// sleep, as a waiter scheduled at once after the wake does. The sleep
// slice is an hour, so that a lost wake shows as the Write's deadline.
func TestCloseWriteWakesSlotWaiter(t *testing.T) {
	t.Cleanup(sleepslice.Set(time.Hour)) // a lost wake a hang, not a 250 ms slice
	seg := shmtest.Segment(t, 1<<16)
	c, err := NewMPSC(seg, "r", 4096, WithProducers(2))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), shmtest.Timeout(t, 20*time.Second))
	defer cancel()

	// Slot 0: a producer killed with a won claim, its header 0, that the
	// consumer (which reads nothing) has not passed.
	flag := shmtest.Segment(t, 64)
	child, err := claimThenDieW.Start(ctx, claimThenDieArgs{R: c, Flag: flag, Kill: claimKill{Claim: 16, Won: true}})
	if err != nil {
		t.Fatal(err)
	}
	awaitChild(t, ctx, flag, "producer did not get to its claim")
	child.Kill()
	child.Wait()

	// Slot 1: a live handle.
	b, err := OpenMPSC(seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.AttachProducer(); err != nil {
		t.Fatal(err)
	}

	y, err := OpenMPSC(seg, "r", WithPoll(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer y.Close()
	// No deadline on the Write's context: a sleep ends at the deadline
	// too, and the look after it would take the slot.
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	wrote := make(chan error, 1)
	go func() { wrote <- y.Write(wctx, []byte("after")) }()

	w := &c.p.wait
	// parked equal to seq with a waiter counted: the waiter has taken the
	// current seq to sleep on.
	asleep := func(what string) {
		for w.waiters.Load() == 0 || w.parked.Load() != w.seq.Load() {
			if ctx.Err() != nil {
				t.Fatalf("%s: %v", what, ctx.Err())
			}
			runtime.Gosched()
		}
	}
	asleep("the new producer never waited for a slot")
	closeWriteHook = func() {
		asleep("the new producer did not wait again after CloseWrite's wake")
	}
	defer func() { closeWriteHook = nil }()
	if err := b.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	closeWriteHook = nil
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatalf("Write of the new producer, a slot freed by CloseWrite: %v", err)
		}
	case <-time.After(shmtest.Timeout(t, 5*time.Second)):
		wcancel()
		t.Fatalf("Write of the new producer still waits for a slot that CloseWrite freed: %v", <-wrote)
	}
}
