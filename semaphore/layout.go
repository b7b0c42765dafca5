package semaphore

import (
	"fmt"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/shm"
)

// Sizes of the primitives in shared memory, in bytes: what an object that
// embeds one reserves for it (docs/semaphore.md draws their layouts).
const (
	MutexSize     = 64
	RWMutexSize   = 704
	SemaphoreSize = 64
	EventSize     = 64
	CondSize      = 128
	BarrierSize   = 256
)

// The sizes above are the layouts' own: a uint of a negative constant does
// not compile, so a layout that grows or shrinks without them fails here.
const _ = uint(MutexSize-mutexSize) + uint(mutexSize-MutexSize) +
	uint(RWMutexSize-rwMutexSize) + uint(rwMutexSize-RWMutexSize) +
	uint(SemaphoreSize-semaphoreSize) + uint(semaphoreSize-SemaphoreSize) +
	uint(EventSize-eventSize) + uint(eventSize-EventSize) +
	uint(CondSize-condSize) + uint(condSize-CondSize) +
	uint(BarrierSize-barrierSize) + uint(barrierSize-BarrierSize)

// Memory layouts of the primitives. Every word is little-endian and naturally
// aligned; every block is a whole number of cache lines (shm.CacheLine, 64
// bytes on x86-64 and arm64) so that a primitive embedded in another object's
// body never shares a line with that object's data, and words written by
// different sides (a lock word and a reader table, a barrier's phase word and
// its counter lock) sit on different lines.
//
// Mutex, MutexSize = 64:
//
//	0        4        8                16         20     24                32         64
//	+--------+--------+----------------+----------+------+----------------+----------+
//	| state  | magic  | owner          | sleepers | zero | want           | reserved |
//	+--------+--------+----------------+----------+------+----------------+----------+
//	state: futex word, see the state machine in mutex.go
//	       bits 0-29 holder (bits 0-21 PID, 22-28 low 7 bits of its
//	       PID namespace tag, 29 zero), bit 30 OWNER_DIED, bit 31 WAITERS
//	magic: "mutx", written by InitMutex, checked by MutexAt
//	owner: procinfo.Ident.Word() of the holder (PID, namespace tag, start
//	       time, as procinfo's package comment draws it),
//	       0 while nobody holds it or while the holder is being recorded
//	sleepers: waiters past their spin, in every process (each adds and
//	       removes its own 1); a woken waiter that takes the lock sets
//	       WAITERS only when it is not 0. A waiter killed while counted
//	       leaves it high: Unlock then wakes when nobody sleeps, as
//	       Drepper's mutex does always; never a lost wake-up.
//	want:  procinfo.Ident.Word() of a process one of whose waiters has
//	       waited 1 ms or more (0: none). Lockers of other goroutines
//	       leave the lock, free, to that waiter; it clears the word once
//	       it holds the lock (or gives up); a locker clears it when it
//	       names a dead process, or when nobody took the free lock within
//	       10 ms. Zero in memory of an older build: nobody starves there.
//
// RWMutex, RWMutexSize = 704:
//
//	  0   writer Mutex (64 bytes, as above): serialises writers, records the
//	      writing process, gives ErrOwnerDead
//	 64   wstate uint32  futex: bit 0 WRITER (a writer holds, waits to
//	      hold, or is leaving), bit 1 SLEEPING (readers, or the next
//	      writer, parked);  68 magic "rwmx";  72 owner uint64: procinfo
//	      word of the writer that set WRITER (see rwmutex.go)
//	128   drain uint32   unused since layout version 3;  132 overflow uint32:
//	      read holds of processes that found no free slot (not recoverable
//	      if such a process dies)
//	192   slots [32] of 16 bytes: { ident uint64 (procinfo word, 0 = free),
//	      count uint32 (read holds of that process), pad uint32 }
//	      count and overflow: futex, bits 0-30 read holds, bit 31
//	      WRITER_WAITING (the writer parks on the word; see rwmutex.go)
//
// Semaphore, SemaphoreSize = 64:
//
//	 0 value uint32 (futex: bits 0-30 units, bit 31 SLEEPING, a waiter
//	   parks on too few units; see semaphore.go)   4 magic "sema"
//	 8 sleepers uint32 (waiters parked, for observers; Release does not read it)
//	12 bound uint32 (0 = unbounded, else the initial value, the ceiling)
//
// Event, EventSize = 64:
//
//	0 flag uint32 (futex: bit 0 SET, bit 31 SLEEPING, a waiter parks on
//	  the clear flag; see event.go)   4 magic "evnt"
//	8 sleepers uint32 (waiters parked, for observers; Set does not read it)
//
// Cond, CondSize = 128:
//
//	 0 its own Mutex (64 bytes, as above): L unless bound to another
//	64 seq uint32 (futex: bits 0-30 the sequence, bumped by
//	   Signal/Notify/Broadcast; bit 31 SLEEPING, a waiter parks on it; see
//	   cond.go)
//	68 magic "cond"   72 sleepers uint32
//	80 lock uint64: object offset (of its header, from the segment start)
//	   of the named Mutex that is L (CreateCondFor); 0 = L is the own Mutex
//
// Barrier, BarrierSize = 256:
//
//	  0 lock, a Mutex (64 bytes) guarding count, the party table, closing,
//	    resets and the decision of each phase move
//	 64 phase uint32 (futex: generation<<2 | bit 1 RESET | bit 0 BROKEN;
//	    moved by CAS after the lock's release, see barrier.go)
//	 68 magic "bar2"   72 count uint32 (parties arrived this generation)
//	 76 parties uint32 (n, fixed at creation)
//	 80 closing uint32 (p+1 while a release or Reset moves the phase from
//	    p, or the last party runs the action: the generation is shut to
//	    arrivals; any other value: not shut)
//	 88 closer uint64 (procinfo word of that mover, written before closing)
//	 96 resets uint64 (which generations ended by a Reset, for a waiter
//	    that looks at the phase two generations or more late: bits 0-31
//	    the latest such generation r, bit 32+i: generation r-i was reset)
//	128 party table, 8 slots of 16 bytes, one per process with parties
//	    waiting in this generation (cleared at each release and Reset):
//	    +0 ident uint64 (procinfo word, 0 = free)   +8 count uint32
const (
	cacheLine = shm.CacheLine

	// Mutex
	mutexSize        = 1 * cacheLine
	mutexOffState    = 0
	mutexOffMagic    = 4
	mutexOffOwner    = 8
	mutexOffSleepers = 16
	mutexOffWant     = 24

	// RWMutex
	rwMutexSize   = 3*cacheLine + rwSlots*slotSize
	rwOffWriter   = 0
	rwOffWState   = 1 * cacheLine
	rwOffMagic    = rwOffWState + 4
	rwOffWOwner   = rwOffWState + 8
	rwOffDrain    = 2 * cacheLine
	rwOffOverflow = rwOffDrain + 4
	rwOffSlots    = 3 * cacheLine
	rwSlots       = 32

	// Semaphore
	semaphoreSize  = 1 * cacheLine
	semOffValue    = 0
	semOffMagic    = 4
	semOffSleepers = 8
	semOffBound    = 12

	// Event
	eventSize     = 1 * cacheLine
	evOffFlag     = 0
	evOffMagic    = 4
	evOffSleepers = 8

	// Cond
	condSize        = 2 * cacheLine
	condOffMutex    = 0
	condOffSeq      = 1 * cacheLine
	condOffMagic    = condOffSeq + 4
	condOffSleepers = condOffSeq + 8
	condOffLock     = condOffSeq + 16

	// Barrier
	barrierSize   = 2*cacheLine + barSlots*slotSize
	barOffLock    = 0
	barOffPhase   = 1 * cacheLine
	barOffMagic   = barOffPhase + 4
	barOffCount   = barOffPhase + 8
	barOffParties = barOffPhase + 12
	barOffClosing = barOffPhase + 16
	barOffCloser  = barOffPhase + 24
	barOffResets  = barOffPhase + 32
	barOffSlots   = 2 * cacheLine
	barSlots      = 8

	// A process slot (RWMutex readers, Barrier parties): a process and
	// its count.
	slotSize  = 16
	slotIdent = 0
	slotCount = 8
)

// Magic words, one per kind, so that XxxAt on memory that holds something
// else (or nothing yet) fails instead of misreading it.
const (
	magicMutex     = 0x7874756d // "mutx"
	magicRWMutex   = 0x786d7772 // "rwmx"
	magicSemaphore = 0x616d6573 // "sema"
	magicEvent     = 0x746e7665 // "evnt"
	magicCond      = 0x646e6f63 // "cond"
	magicBarrier   = 0x32726162 // "bar2": the layout with party slots; "barr" (no slots, 128 bytes) is refused
)

// layoutVersion is the object-header version of every kind here but the
// Barrier, whose party table came in version 2 and whose release and
// Reset move the phase after the lock's release since version 4, the
// generation shut in the closing word meanwhile (an older build's party
// would arrive in a shut generation and be released with it, one party
// more than it has) and whose movers out of a reset generation log it in
// the resets word since version 5 (an older build's would not, and a
// waiter of this build that looked late would take a reset generation
// for released), the Cond, whose bound lock came in version 3 and
// whose sequence word holds its SLEEPING bit since version 4 (an older build's waiter would not mark the word, and
// a notification of this build would not wake it), the Event, whose flag word holds its SLEEPING
// bit since version 3 (an older build would read that bit as set), and
// the Semaphore, whose value word holds its SLEEPING bit since version 3
// (an older build would read it as 2^31 units), and the RWMutex, whose
// read count words hold the WRITER_WAITING bit since version 3 (an older
// build would read it as 2^31 holds, and its readers would wake the writer
// on drain, where it no longer parks) and whose writers release wstate
// after their writer Mutex since version 4, naming themselves in the owner
// word beside it (an older build's writer would take a leaving writer's
// WRITER bit as its own, and the leaving writer would clear it under it). Version 2 (Barrier 3): the Mutex state word holds the holder's
// namespace tag beside its PID, and every procinfo word (owner, reader
// slots, party slots) has the namespace-tagged layout.
const (
	layoutVersion        = 2
	barrierLayoutVersion = 5
	condLayoutVersion    = 4
	eventLayoutVersion   = 3
	semLayoutVersion     = 3
	rwMutexLayoutVersion = 4
)

// versionOf is the object-header version of kind.
func versionOf(kind shm.Kind) uint16 {
	switch kind {
	case shm.KindBarrier:
		return barrierLayoutVersion
	case shm.KindCond:
		return condLayoutVersion
	case shm.KindEvent:
		return eventLayoutVersion
	case shm.KindSemaphore:
		return semLayoutVersion
	case shm.KindRWMutex:
		return rwMutexLayoutVersion
	}
	return layoutVersion
}

// Alignment is what XxxAt and InitXxx require of the start of their memory.
// 8 is what the 64-bit words need; a cache-line start (64) is what shm gives
// object bodies and is recommended for embedding.
const Alignment = 8

// region checks that mem can hold a primitive of size bytes: long enough and
// aligned, and returns the part it uses.
func region(mem []byte, size int, what string) ([]byte, error) {
	if len(mem) < size {
		return nil, fmt.Errorf("%w: %s needs %d bytes, region has %d", ErrIncompatible, what, size, len(mem))
	}
	if _, err := atomics.Uint64At(mem, 0); err != nil { // the one alignment check: atomics owns the unsafe
		return nil, fmt.Errorf("%w: %s region is not %d-byte aligned", ErrIncompatible, what, Alignment)
	}
	return mem[:size:size], nil
}

// checkMagic validates the magic word at off.
func checkMagic(mem []byte, off int, want uint32, what string) error {
	got := le32(mem[off:])
	if got != want {
		if got == 0 {
			return fmt.Errorf("%w: region holds no initialised %s (magic is zero)", ErrIncompatible, what)
		}
		return fmt.Errorf("%w: region holds magic %#08x, not a %s", ErrIncompatible, got, what)
	}
	return nil
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

func putLE64(b []byte, v uint64) { putLE32(b, uint32(v)); putLE32(b[4:], uint32(v>>32)) }

func putLE32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
