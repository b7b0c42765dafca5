// Package handoff lets a shared object that travels to a child process count
// that child as one of its peers from the moment the child is started, not
// from the moment the child first uses the object.
//
// Without it a waiter cannot tell "the producer I was handed to has not
// decoded its arguments yet" from "every producer has exited": a child that
// is starting is invisible, so a parent whose first worker has already put
// its result and exited concludes that nobody is left (a false ErrPeerDead
// on a loaded machine, where a child takes milliseconds to start).
//
// The protocol runs in the parent, around the encoding of a child's
// arguments (package process does this in Start):
//
//  1. Collect runs the encoding. Each shared object's GobEncode calls Add
//     with a Reservation: the object has already written a stand-in word
//     (procinfo.HandoffWord of the parent) into one of its peer slots. A
//     stand-in is alive exactly while the parent is, so from this moment a
//     waiter in any process sees a live possible peer.
//  2. The child is started.
//  3. Commit replaces every stand-in by the child's word (CAS: a stand-in
//     is never touched by anyone else), or Abort frees them when the child
//     could not be started. Commit comes before the child is sent its
//     arguments: a handle of the child adopts the slot reserved for it
//     only if the slot names it when it attaches.
//
// A parent killed between 1 and 3 leaves stand-ins that name a dead process:
// they read as dead peers, are reused like any dead slot, and the child (if
// it started) registers itself when it attaches. No step leaves a count
// that a kill can tear.
package handoff

import (
	"sync"

	"github.com/shmkit/shmkit/internal/goid"
)

// A Reservation is one peer slot held by a stand-in: Commit replaces the
// stand-in by the child's procinfo word; Abort frees the slot.
type Reservation interface {
	Commit(child uint64)
	Abort()
}

// Batch is the reservations made while one child's arguments were encoded.
type Batch struct {
	rs []Reservation
}

var (
	mu      sync.Mutex // serialises Collect: one encoding at a time
	current *Batch     // the batch Add appends to; nil outside Collect (guarded by curMu)
	owner   uint64     // the goroutine running Collect (guarded by curMu)
	curMu   sync.Mutex
)

// Collect runs encode and returns the reservations that the objects it
// encoded made with Add. Calls are serialised. When encode fails, or
// panics (a caller's GobEncode that does: gob passes the panic on), the
// reservations are aborted and the batch is nil.
func Collect(encode func() error) (*Batch, error) {
	mu.Lock()
	defer mu.Unlock()
	b := &Batch{}
	curMu.Lock()
	current, owner = b, goid.ID()
	curMu.Unlock()
	ok := false
	defer func() {
		curMu.Lock()
		current = nil
		curMu.Unlock()
		if !ok {
			// A stand-in reads as alive while this process lives: one left
			// by a panic would be a peer that never comes, for as long as
			// a caller that recovered it lives.
			b.Abort()
		}
	}()
	err := encode()
	ok = err == nil
	if !ok {
		return nil, err
	}
	return b, nil
}

// Active reports whether the calling goroutine is running a Collect, that
// is whether the object it is encoding travels to a child about to start:
// only then is a reservation worth making. An object gob-encoded by another
// goroutine meanwhile (to a file, to a socket) is not the child's.
func Active() bool {
	curMu.Lock()
	b := current
	curMu.Unlock()
	return b != nil && isOwner()
}

// isOwner reports whether the calling goroutine runs the current Collect
// (read only while one runs: the goroutine id costs a microsecond).
func isOwner() bool {
	id := goid.ID()
	curMu.Lock()
	defer curMu.Unlock()
	return current != nil && owner == id
}

// Add records r in the calling goroutine's Collect batch. Outside Collect
// (an object gob-encoded for some other purpose) it aborts r at once.
func Add(r Reservation) {
	var b *Batch
	if isOwner() {
		curMu.Lock()
		if b = current; b != nil {
			b.rs = append(b.rs, r)
		}
		curMu.Unlock()
	}
	if b == nil {
		r.Abort()
	}
}

// Commit hands every reservation to the child named by word.
func (b *Batch) Commit(child uint64) {
	if b == nil {
		return
	}
	for _, r := range b.rs {
		r.Commit(child)
	}
	b.rs = nil
}

// Abort frees every reservation (the child did not start).
func (b *Batch) Abort() {
	if b == nil {
		return
	}
	for _, r := range b.rs {
		r.Abort()
	}
	b.rs = nil
}

// Slot is the common Reservation: a 64-bit peer word that holds a stand-in
// until Commit swaps in the child's word, or Abort puts back Prev (0, a
// free slot, unless the word named a holder before: a pipe end's).
type Slot struct {
	Word    interface{ CompareAndSwap(old, new uint64) bool }
	StandIn uint64
	Prev    uint64
}

// Commit replaces the stand-in by child (stand-in -> child).
func (s Slot) Commit(child uint64) { s.Word.CompareAndSwap(s.StandIn, child) }

// Abort gives the slot back (stand-in -> what it held before).
func (s Slot) Abort() { s.Word.CompareAndSwap(s.StandIn, s.Prev) }
