package semaphore

import (
	"testing"
	"unsafe"
)

// Go structs with the layouts drawn in layout.go; the test checks the
// offsets constants against what the compiler lays out.
type (
	mutexLayout struct {
		state, magic uint32
		owner        uint64
		sleepers     uint32
		_            uint32
		want         uint64
		_            [MutexSize - 32]byte
	}
	slotLayout struct {
		ident uint64
		count uint32
		_     uint32
	}
	rwLayout struct {
		writer          mutexLayout
		wstate, magic   uint32
		wowner          uint64
		_               [cacheLine - 16]byte
		drain, overflow uint32
		_               [cacheLine - 8]byte
		slots           [rwSlots]slotLayout
	}
	semLayout struct {
		value, magic, sleepers, bound uint32
		_                             [SemaphoreSize - 16]byte
	}
	eventLayout struct {
		flag, magic, sleepers uint32
		_                     [EventSize - 12]byte
	}
	condLayout struct {
		l                    mutexLayout
		seq, magic, sleepers uint32
		_                    [cacheLine - 12]byte
	}
	barrierLayout struct {
		lock                         mutexLayout
		phase, magic, count, parties uint32
		closing, _                   uint32
		closer, resets               uint64
		_                            [cacheLine - 40]byte
		slots                        [barSlots]slotLayout
	}
)

func TestLayoutOffsets(t *testing.T) {
	var (
		m  mutexLayout
		rw rwLayout
		s  semLayout
		e  eventLayout
		c  condLayout
		b  barrierLayout
	)
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"MutexSize", unsafe.Sizeof(m), MutexSize},
		{"mutex.state", unsafe.Offsetof(m.state), mutexOffState},
		{"mutex.magic", unsafe.Offsetof(m.magic), mutexOffMagic},
		{"mutex.owner", unsafe.Offsetof(m.owner), mutexOffOwner},
		{"mutex.sleepers", unsafe.Offsetof(m.sleepers), mutexOffSleepers},
		{"mutex.want", unsafe.Offsetof(m.want), mutexOffWant},
		{"RWMutexSize", unsafe.Sizeof(rw), RWMutexSize},
		{"rw.writer", unsafe.Offsetof(rw.writer), rwOffWriter},
		{"rw.wstate", unsafe.Offsetof(rw.wstate), rwOffWState},
		{"rw.wowner", unsafe.Offsetof(rw.wowner), rwOffWOwner},
		{"rw.magic", unsafe.Offsetof(rw.magic), rwOffMagic},
		{"rw.drain", unsafe.Offsetof(rw.drain), rwOffDrain},
		{"rw.overflow", unsafe.Offsetof(rw.overflow), rwOffOverflow},
		{"rw.slots", unsafe.Offsetof(rw.slots), rwOffSlots},
		{"slotSize", unsafe.Sizeof(rw.slots[0]), slotSize},
		{"slot.ident", unsafe.Offsetof(rw.slots[0].ident), slotIdent},
		{"slot.count", unsafe.Offsetof(rw.slots[0].count), slotCount},
		{"SemaphoreSize", unsafe.Sizeof(s), SemaphoreSize},
		{"sem.value", unsafe.Offsetof(s.value), semOffValue},
		{"sem.magic", unsafe.Offsetof(s.magic), semOffMagic},
		{"sem.sleepers", unsafe.Offsetof(s.sleepers), semOffSleepers},
		{"sem.bound", unsafe.Offsetof(s.bound), semOffBound},
		{"EventSize", unsafe.Sizeof(e), EventSize},
		{"event.flag", unsafe.Offsetof(e.flag), evOffFlag},
		{"event.magic", unsafe.Offsetof(e.magic), evOffMagic},
		{"event.sleepers", unsafe.Offsetof(e.sleepers), evOffSleepers},
		{"CondSize", unsafe.Sizeof(c), CondSize},
		{"cond.L", unsafe.Offsetof(c.l), condOffMutex},
		{"cond.seq", unsafe.Offsetof(c.seq), condOffSeq},
		{"cond.magic", unsafe.Offsetof(c.magic), condOffMagic},
		{"cond.sleepers", unsafe.Offsetof(c.sleepers), condOffSleepers},
		{"BarrierSize", unsafe.Sizeof(b), BarrierSize},
		{"barrier.lock", unsafe.Offsetof(b.lock), barOffLock},
		{"barrier.phase", unsafe.Offsetof(b.phase), barOffPhase},
		{"barrier.magic", unsafe.Offsetof(b.magic), barOffMagic},
		{"barrier.count", unsafe.Offsetof(b.count), barOffCount},
		{"barrier.parties", unsafe.Offsetof(b.parties), barOffParties},
		{"barrier.closing", unsafe.Offsetof(b.closing), barOffClosing},
		{"barrier.closer", unsafe.Offsetof(b.closer), barOffCloser},
		{"barrier.resets", unsafe.Offsetof(b.resets), barOffResets},
		{"barrier.slots", unsafe.Offsetof(b.slots), barOffSlots},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: layout has %d, constant says %d", c.name, c.got, c.want)
		}
	}
	for _, size := range []int{MutexSize, RWMutexSize, SemaphoreSize, EventSize, CondSize, BarrierSize} {
		if size%cacheLine != 0 {
			t.Errorf("size %d is not a whole number of cache lines", size)
		}
	}
	// Words written by different sides sit on different lines.
	if rwOffWState/cacheLine == rwOffDrain/cacheLine || rwOffDrain/cacheLine == rwOffSlots/cacheLine {
		t.Error("RWMutex writer and reader words share a line")
	}
}
