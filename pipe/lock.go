package pipe

import (
	"context"
	"sync"
	"sync/atomic"
)

// callLock serialises the goroutines that send (or receive) on one Conn,
// as a sync.Mutex does, with LockContext for a blocking call: a Send
// parked on a full ring (a Recv on an empty one) holds the lock for as
// long as it waits, and a call of another goroutine that waits for the
// lock gives up when its own context ends, as every blocking call does.
// (With a plain Lock it waited as long as the parked call did:
// TestWaitingCallGivesUpBehindAnother.) The zero value is unlocked.
//
// Unlock pays one load beyond sync.Mutex's while nobody waits: a waiter
// counts itself in waiters before its last TryLock, and Unlock looks at
// waiters after it unlocks (both sequentially consistent), so either the
// TryLock finds the lock free or Unlock finds the waiter and closes free.
type callLock struct {
	mu      sync.Mutex
	waiters atomic.Int32  // goroutines in LockContext's wait
	wmu     sync.Mutex    // guards free
	free    chan struct{} // closed by the next Unlock that finds waiters; made by a waiter
}

func (l *callLock) Lock()         { l.mu.Lock() }
func (l *callLock) TryLock() bool { return l.mu.TryLock() }

// LockContext takes l, or returns ctx's error once ctx ends first.
func (l *callLock) LockContext(ctx context.Context) error {
	if l.mu.TryLock() {
		return nil
	}
	l.waiters.Add(1)
	defer l.waiters.Add(-1)
	for {
		l.wmu.Lock()
		if l.free == nil {
			l.free = make(chan struct{})
		}
		free := l.free
		l.wmu.Unlock()
		if l.mu.TryLock() { // after counting in waiters: an Unlock before it is seen here
			return nil
		}
		select {
		case <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *callLock) Unlock() {
	l.mu.Unlock()
	if l.waiters.Load() != 0 { // observes: a waiter counted before its TryLock
		l.wmu.Lock()
		if l.free != nil {
			close(l.free)
			l.free = nil
		}
		l.wmu.Unlock()
	}
}
