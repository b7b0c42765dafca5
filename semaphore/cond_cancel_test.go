package semaphore_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/semaphore"
)

// endingCtx is a context whose end the test chooses to the instruction:
// Err reports it once end is called, and Done is nil, so that nothing
// wakes a waiter when it ends (a real cancel landing between a wake and
// the waiter's look at its context).
type endingCtx struct {
	context.Context
	ended atomic.Bool
}

func (c *endingCtx) end()                  { c.ended.Store(true) }
func (c *endingCtx) Done() <-chan struct{} { return nil }

func (c *endingCtx) Err() error {
	if c.ended.Load() {
		return context.Canceled
	}
	return nil
}

// TestCondSignalToAnEndingWaiter: a Signal's single wake that reaches a
// WaitContext whose context ends at that moment must not be lost. The
// waiter reported its context's end and took the wake with it, while
// another waiter, parked behind it, slept on until its futex slice ended
// (250 ms; Cond waiters have no poll): a lost wake-up by the measure of
// the Cond hammers. A waiter whose context ended after a notification
// reports the notification instead (Signal woke it). The other waiter is a bare futex
// sleep on the sequence word with no timeout, so that a lost wake is a
// hang; the ending waiter's own sleep lasts one slice, which the test
// must act within (the check cannot fail wrongly if it does not).
func TestCondSignalToAnEndingWaiter(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	c, err := semaphore.CreateCond(seg, "c")
	if err != nil {
		t.Fatal(err)
	}
	seq := semaphore.CondSeq(c)
	inWait := futexWaitFor(seq, seq.Load()|semaphore.CondSleeping) // it marks the word before it sleeps
	ctx := &endingCtx{Context: context.Background()}
	ended := make(chan error, 1)
	go func() {
		c.L.Lock()
		err := c.WaitContext(ctx)
		c.L.Unlock()
		ended <- err
	}()
	if _, ok := awaitFutexSleep(t, inWait); !ok {
		ctx.end()
		c.Broadcast()
		<-ended
		return
	}
	parked := make(chan error, 1)
	s := seq.Load()
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		parked <- atomics.Wait(seq, s, 0)
	}()
	for deadline := time.Now().Add(10 * time.Second); !threadsInSyscall(inWait, 2); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Error("the second waiter never slept in futex_wait on the sequence word")
			break
		}
	}
	ctx.end()
	c.Signal() // one wake: to the waiter that slept first
	if err := <-ended; err == nil {
		// The notification, which its wake brought, won over the context.
		atomics.Wake(seq, -1)
		<-parked
		return
	} else if !errors.Is(err, context.Canceled) {
		t.Errorf("WaitContext: %v", err)
	}
	select {
	case <-parked:
		// Woken: the ending waiter's slice was over before the Signal,
		// and it was not the one woken.
	case <-time.After(10 * time.Second): // only so that a hang fails
		t.Error("the waiter whose context ended with the Signal's wake reported its context, and the waiter behind it was never woken")
		atomics.Wake(seq, -1)
		<-parked
	}
}

// threadsInSyscall reports whether at least n threads of this process are
// in the system call that /proc/self/task/*/syscall shows as a line
// starting with prefix.
func threadsInSyscall(prefix string, n int) bool {
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, task := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + task.Name() + "/syscall")
		if err == nil && strings.HasPrefix(syscallLine(b), prefix) {
			if n--; n == 0 {
				return true
			}
		}
	}
	return false
}
