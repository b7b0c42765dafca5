package cell

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
)

// ErrOwnerDead is returned by Lock when it took the lock over from a
// process that died holding it: the lock is held, and the data may hold a
// half-finished write.
var ErrOwnerDead = errors.New("lock owner died")

// mutex is the cell's lock, in the lock line of the layout. Interim form
// until semaphore.Mutex is embeddable: one 64-bit owner word at offset 0
// of the line.
//
//	0            unlocked
//	procinfo w   locked by the process whose Ident.Word is w
//
// Waiters spin, then yield, then sleep briefly; every few rounds they check
// the owner's liveness and take a dead owner's lock over with one CAS. It
// is not fair, and it does not park on a futex.
type mutex struct{ owner *atomic.Uint64 }

func initMutex(mem []byte) {}

func mutexAt(mem []byte) mutex { return mutex{owner: atomics.MustUint64At(mem, 0)} }

func (m mutex) lock(ctx context.Context) error {
	me := procinfo.Self().Word()
	for i := 0; ; i++ {
		if m.owner.CompareAndSwap(0, me) { // unlocked -> locked by me
			return nil
		}
		if i%64 == 63 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if old := m.owner.Load(); old != 0 && old != me && !procinfo.AliveWord(old) &&
				m.owner.CompareAndSwap(old, me) { // locked by the dead -> locked by me
				return fmt.Errorf("cell: %w (pid %d)", ErrOwnerDead, procinfo.FromWord(old).Pid)
			}
		}
		switch {
		case i < 32:
		case i < 256:
			runtime.Gosched()
		default:
			time.Sleep(20 * time.Microsecond)
		}
	}
}

func (m mutex) unlock() {
	if m.owner.Swap(0) == 0 { // locked -> unlocked
		panic("cell: unlock of unlocked lock")
	}
}
