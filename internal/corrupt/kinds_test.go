package corrupt_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/semaphore"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

// The objects of every trial are called "o"; the campaign's kinds, in the
// order trials cycle through them.
var kinds = []kind{
	{"segment", createSegment, openSegment},
	{"value-word", createValueWord, openValueWord},
	{"value", createValue, openValue},
	{"array", createArray, openArray},
	{"mutex", createMutex, openMutex},
	{"rwmutex", createRWMutex, openRWMutex},
	{"semaphore", createSemaphore, openSemaphore},
	{"event", createEvent, openEvent},
	{"cond", createCond, openCond},
	{"barrier", createBarrier, openBarrier},
	{"spsc", createSPSC, openSPSC},
	{"mpsc", createMPSC, openMPSC},
	{"mpmc", createMPMC, openMPMC},
	{"queue", createQueue, openQueue},
	{"queue-large", createLargeQueue, openLargeQueue},
	{"joinable", createJoinable, openJoinable},
	{"pipe", createPipe, openPipe},
}

func plain(err error) (string, error) { return "", err }

// checkN says a count a call returned is outside [0, max].
func checkN(what string, n, max int) string {
	if n < 0 || n > max {
		return fmt.Sprintf("%s = %d, outside [0, %d]", what, n, max)
	}
	return ""
}

// Segment: the header and directory, through a Value in it.

func createSegment(seg *shm.Segment) error {
	_, err := value.Create[int64](seg, "o", 1)
	return err
}

func openSegment(seg, seg2 *shm.Segment) ([]op, error) {
	name := seg.Name()
	return []op{
		{"Objects", func(context.Context) (string, error) {
			for _, o := range seg2.Objects() {
				if o.Err != nil {
					return plain(o.Err)
				}
			}
			return "", nil
		}},
		{"Lookup", func(context.Context) (string, error) {
			_, err := seg2.Lookup("o", nil)
			return plain(err)
		}},
		{"Alloc", func(context.Context) (string, error) {
			_, err := value.Create[int64](seg2, "new", 1)
			return plain(err)
		}},
		{"Info", func(context.Context) (string, error) { seg2.Info(); return "", nil }},
		{"Stat", func(context.Context) (string, error) {
			_, err := shm.Stat(name)
			return plain(err)
		}},
		{"Open", func(context.Context) (string, error) {
			_, err := shm.Open(name)
			return plain(err)
		}},
	}, nil
}

// Value: a lock-free integer and a seqlocked struct.

func createValueWord(seg *shm.Segment) error {
	_, err := value.Create[int64](seg, "o", 42)
	return err
}

func openValueWord(_, seg2 *shm.Segment) ([]op, error) {
	v, err := value.Open[int64](seg2, "o")
	if err != nil {
		return nil, err
	}
	return []op{
		{"Load", func(context.Context) (string, error) { v.Load(); return "", nil }},
		{"LoadContext", func(ctx context.Context) (string, error) { _, err := v.LoadContext(ctx); return plain(err) }},
		{"StoreContext", func(ctx context.Context) (string, error) { return plain(v.StoreContext(ctx, 7)) }},
		{"UpdateContext", func(ctx context.Context) (string, error) {
			_, err := v.UpdateContext(ctx, func(p *int64) { *p++ })
			return plain(err)
		}},
		{"LockContext", func(ctx context.Context) (string, error) { return plain(lockedUnlock(v.LockContext(ctx))) }},
		{"Add", func(context.Context) (string, error) { value.Add(v, 1); return "", nil }},
		{"Swap", func(context.Context) (string, error) { value.Swap(v, 1); return "", nil }},
		{"CompareAndSwap", func(context.Context) (string, error) { value.CompareAndSwap(v, 42, 1); return "", nil }},
	}, nil
}

// lockedUnlock unlocks the Locked of a LockContext that took the lock.
func lockedUnlock[L interface{ Unlock() }](l L, err error) error {
	if err == nil || errors.Is(err, semaphore.ErrOwnerDead) {
		l.Unlock()
	}
	return err
}

type wide struct{ A, B, C, D uint64 }

func createValue(seg *shm.Segment) error {
	_, err := value.Create(seg, "o", wide{1, 1, 1, 1})
	return err
}

func openValue(_, seg2 *shm.Segment) ([]op, error) {
	v, err := value.Open[wide](seg2, "o")
	if err != nil {
		return nil, err
	}
	return []op{
		{"LoadContext", func(ctx context.Context) (string, error) { _, err := v.LoadContext(ctx); return plain(err) }},
		{"StoreContext", func(ctx context.Context) (string, error) { return plain(v.StoreContext(ctx, wide{2, 2, 2, 2})) }},
		{"UpdateContext", func(ctx context.Context) (string, error) {
			_, err := v.UpdateContext(ctx, func(p *wide) { p.A++ })
			return plain(err)
		}},
		{"LockContext", func(ctx context.Context) (string, error) { return plain(lockedUnlock(v.LockContext(ctx))) }},
	}, nil
}

func createArray(seg *shm.Segment) error {
	_, err := array.CreateFrom(seg, "o", []int32{1, 2, 3, 4, 5, 6, 7, 8})
	return err
}

func openArray(_, seg2 *shm.Segment) ([]op, error) {
	a, err := array.Open[int32](seg2, "o")
	if err != nil {
		return nil, err
	}
	buf := make([]int32, 8)
	// An index the array has: its length comes from the (corrupted)
	// header, and At and Set panic on another as indexing does (the
	// caller's mistake, not a fault).
	i := a.Len() - 1
	if i < 0 {
		return nil, errors.New("array of no elements")
	}
	return []op{
		{"AtContext", func(ctx context.Context) (string, error) { _, err := a.AtContext(ctx, i); return plain(err) }},
		{"SetContext", func(ctx context.Context) (string, error) { return plain(a.SetContext(ctx, i, 9)) }},
		{"CopyToContext", func(ctx context.Context) (string, error) {
			n, err := a.CopyToContext(ctx, buf)
			return checkN("CopyToContext", n, len(buf)), err
		}},
		{"CopyFromContext", func(ctx context.Context) (string, error) {
			n, err := a.CopyFromContext(ctx, buf[:4])
			return checkN("CopyFromContext", n, 4), err
		}},
		{"WithContext", func(ctx context.Context) (string, error) {
			return plain(a.WithContext(ctx, func(s []int32) {
				if len(s) > 0 {
					s[0]++
				}
			}))
		}},
		{"LockContext", func(ctx context.Context) (string, error) { return plain(lockedUnlock(a.LockContext(ctx))) }},
		{"Len", func(context.Context) (string, error) { a.Len(); return "", nil }},
	}, nil
}

// The primitives of package semaphore.

func createMutex(seg *shm.Segment) error {
	_, err := semaphore.CreateMutex(seg, "o")
	return err
}

// lockMutex locks with lock, repairs after ErrOwnerDead, and unlocks.
func lockMutex(ok bool, err error, consistent, unlock func()) error {
	if errors.Is(err, semaphore.ErrOwnerDead) {
		consistent()
	}
	if ok {
		unlock()
	}
	return err
}

func openMutex(_, seg2 *shm.Segment) ([]op, error) {
	m, err := semaphore.OpenMutex(seg2, "o")
	if err != nil {
		return nil, err
	}
	return []op{
		{"Lock", func(ctx context.Context) (string, error) {
			err := m.LockContext(ctx)
			return plain(lockMutex(err == nil || errors.Is(err, semaphore.ErrOwnerDead), err, m.MarkConsistent, m.Unlock))
		}},
		{"TryLock", func(context.Context) (string, error) {
			ok, err := m.TryLock()
			return plain(lockMutex(ok, err, m.MarkConsistent, m.Unlock))
		}},
		{"Owner", func(context.Context) (string, error) { m.Owner(); return "", nil }},
		{"Recoverable", func(context.Context) (string, error) { m.Recoverable(); return "", nil }},
	}, nil
}

func createRWMutex(seg *shm.Segment) error {
	_, err := semaphore.CreateRWMutex(seg, "o")
	return err
}

func openRWMutex(_, seg2 *shm.Segment) ([]op, error) {
	rw, err := semaphore.OpenRWMutex(seg2, "o")
	if err != nil {
		return nil, err
	}
	return []op{
		{"Lock", func(ctx context.Context) (string, error) {
			err := rw.LockContext(ctx)
			return plain(lockMutex(err == nil || errors.Is(err, semaphore.ErrOwnerDead), err, rw.MarkConsistent, rw.Unlock))
		}},
		{"RLock", func(ctx context.Context) (string, error) {
			err := rw.RLockContext(ctx)
			if err == nil {
				rw.RUnlock()
			}
			return plain(err)
		}},
		{"TryRLock", func(context.Context) (string, error) {
			if rw.TryRLock() {
				rw.RUnlock()
			}
			return "", nil
		}},
	}, nil
}

func createSemaphore(seg *shm.Segment) error {
	_, err := semaphore.CreateBoundedSemaphore(seg, "o", 2)
	return err
}

func openSemaphore(_, seg2 *shm.Segment) ([]op, error) {
	s, err := semaphore.OpenSemaphore(seg2, "o")
	if err != nil {
		return nil, err
	}
	return []op{
		{"Acquire", func(ctx context.Context) (string, error) { return plain(s.AcquireContext(ctx, 1)) }},
		{"Acquire3", func(ctx context.Context) (string, error) { return plain(s.AcquireContext(ctx, 3)) }},
		{"Release", func(context.Context) (string, error) { return plain(s.Release(1)) }},
		{"TryAcquire", func(context.Context) (string, error) { s.TryAcquire(1); return "", nil }},
		{"Value", func(context.Context) (string, error) { s.Value(); return "", nil }},
		{"Bounded", func(context.Context) (string, error) { s.Bounded(); return "", nil }},
	}, nil
}

func createEvent(seg *shm.Segment) error {
	_, err := semaphore.CreateEvent(seg, "o")
	return err
}

func openEvent(_, seg2 *shm.Segment) ([]op, error) {
	e, err := semaphore.OpenEvent(seg2, "o")
	if err != nil {
		return nil, err
	}
	return []op{
		{"Wait", func(ctx context.Context) (string, error) { e.WaitContext(ctx); return "", nil }},
		{"Set", func(context.Context) (string, error) { e.Set(); return "", nil }},
		{"Clear", func(context.Context) (string, error) { e.Clear(); return "", nil }},
		{"IsSet", func(context.Context) (string, error) { e.IsSet(); return "", nil }},
	}, nil
}

func createCond(seg *shm.Segment) error {
	_, err := semaphore.CreateCond(seg, "o")
	return err
}

func openCond(_, seg2 *shm.Segment) ([]op, error) {
	c, err := semaphore.OpenCond(seg2, "o")
	if err != nil {
		return nil, err
	}
	return []op{
		{"Wait", func(ctx context.Context) (string, error) {
			err := c.L.LockContext(ctx)
			if errors.Is(err, semaphore.ErrOwnerDead) {
				c.L.MarkConsistent()
			} else if err != nil {
				return plain(err)
			}
			err = c.WaitContext(ctx)
			if errors.Is(err, semaphore.ErrOwnerDead) {
				c.L.MarkConsistent()
			}
			if err == nil || errors.Is(err, semaphore.ErrOwnerDead) || errors.Is(err, context.DeadlineExceeded) {
				c.L.Unlock()
			}
			return plain(err)
		}},
		{"Signal", func(context.Context) (string, error) { c.Signal(); return "", nil }},
		{"Broadcast", func(context.Context) (string, error) { c.Broadcast(); return "", nil }},
	}, nil
}

func createBarrier(seg *shm.Segment) error {
	_, err := semaphore.CreateBarrier(seg, "o", 2)
	return err
}

func openBarrier(_, seg2 *shm.Segment) ([]op, error) {
	b, err := semaphore.OpenBarrier(seg2, "o")
	if err != nil {
		return nil, err
	}
	return []op{
		{"Wait", func(ctx context.Context) (string, error) {
			i, err := b.WaitContext(ctx)
			if err == nil {
				return checkN("Wait", i, b.Parties()-1), nil
			}
			return plain(err)
		}},
		{"Abort", func(context.Context) (string, error) { return plain(b.Abort()) }},
		{"Reset", func(context.Context) (string, error) { return plain(b.Reset()) }},
		{"Broken", func(context.Context) (string, error) { b.Broken(); return "", nil }},
		{"Parties", func(context.Context) (string, error) { b.Parties(); return "", nil }},
		{"Waiting", func(context.Context) (string, error) { b.Waiting(); return "", nil }},
	}, nil
}
