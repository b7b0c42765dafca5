package pipe

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/shm"
)

// Listener and Dial are Python's multiprocessing.connection.Listener and
// Client: unrelated processes meet by a name, and each Dial becomes a pipe
// between the dialer and the process that accepts it.
//
// The rendezvous is a small segment named by the listener, holding a table
// of offers. A dialer claims a free offer slot and writes a name into it,
// name.PID.N, then makes a segment of that name with the pipe and an accept
// word inside, marks the offer ready and waits on the accept word. A
// dialer that dies before its offer is taken leaves its slot claimed by a
// dead process: the next Accept, or the listener's Close, frees the slot
// and removes the segment it names (if a dead process created it). Accept takes the offer, opens end 0 of the pipe
// (so it becomes the end's holder), marks the offer accepted, wakes the
// dialer and unlinks the connection segment's name (the dialer does too,
// in case the listener dies first): both processes have it mapped, and
// nothing stays in /dev/shm. A dialer that gives up (its context
// ends, or the listener closed or died) marks the offer abandoned, which
// Accept then skips, and unlinks the segment itself: the accept word's
// compare-and-swap decides which of the two happened. The listener's Close
// refuses the posted offers of live dialers the same way, so that they
// return at once. An Accept that fails after taking an offer refuses it
// too, or, when it cannot map the segment, removes its name, which the
// dialer's poll notices.

// ErrRefused is returned by Dial when no listener has the name, or the
// listener closed, died or failed before accepting.
var ErrRefused = errors.New("pipe: connection refused")

// Listener layout: the object "listener" in the segment the listener names.
//
//	 0 seq u32     [dialers bump it on an offer, Accept when it frees a slot; both wait on it]
//	 4 closed u32  [Close writes 1; dialers and Accept read]
//	 8 owner u64   [the listening process (procinfo word); dialers read]
//	64 offers: offerSlots slots of offerSize bytes:
//	    0 claim u64  [0: free; else the procinfo word of the dialer writing or
//	                  having written it; the dialer CASes 0 -> self, Accept frees]
//	    8 ready u32  [the dialer stores 1 once the name is in; Accept stores 0]
//	   12 len u32    [length of the name]
//	   16 name [offerName]byte
const (
	lisSeq        = 0
	lisClosed     = 4
	lisOwner      = 8
	lisOffers     = 64
	offerSlots    = 32
	offerSize     = 128
	offerClaim    = 0
	offerReady    = 8
	offerLen      = 12
	offerName     = 16
	offerNameMax  = offerSize - offerName
	lisBody       = lisOffers + offerSlots*offerSize
	listenerObj   = "listener"
	connObj       = "conn"
	acceptObj     = "accept"
	connSegExtra  = 16 << 10
	pollListener  = pollPeer
	acceptOffered = 0 // the accept word's states
	acceptTaken   = 1
	acceptDropped = 2
)

// Listener accepts pipes dialed by name from other processes (Python's
// multiprocessing.connection.Listener). It is safe for concurrent use.
type Listener[T any] struct {
	o      Options[T]
	seg    *shm.Segment
	body   []byte
	seq    *atomic.Uint32
	closed *atomic.Uint32

	mu      sync.RWMutex // Accept holds it shared, Close exclusively: no Accept runs on an unmapped segment
	done    bool         // guarded by mu
	closing atomic.Bool  // Close has begun: a second Close touches nothing
}

// Listen makes a listener called name: a segment of that name (see
// shm.Create for the rules on names and ErrExist) that Dial finds. Close
// removes it. o applies to every accepted pipe; the dialer's Options must
// name the same codec.
func Listen[T any](name string, o Options[T]) (*Listener[T], error) {
	if len(name) > offerNameMax-24 {
		return nil, fmt.Errorf("pipe: listener name %q longer than %d bytes", name, offerNameMax-24)
	}
	seg, err := shm.Create(name, 8<<10)
	if err != nil {
		return nil, fmt.Errorf("pipe: listen: %w", err)
	}
	obj, err := seg.Alloc(listenerObj, shm.ObjectSpec{Kind: shm.KindBytes, BodySize: lisBody}, nil)
	if err != nil {
		seg.Unlink()
		seg.Close()
		return nil, fmt.Errorf("pipe: listen: %w", err)
	}
	l := &Listener[T]{o: o, seg: seg, body: obj.Body}
	l.seq = atomics.MustUint32At(obj.Body, lisSeq)
	l.closed = atomics.MustUint32At(obj.Body, lisClosed)
	atomics.MustUint64At(obj.Body, lisOwner).Store(procinfo.Self().Word())
	return l, nil
}

// Name returns the name dialers use.
func (l *Listener[T]) Name() string { return l.seg.Name() }

// Accept waits for the next Dial and returns this process's end of the new
// pipe (end 0; the dialer holds end 1). It returns ctx's error when ctx ends
// first, and ErrClosed once the listener is closed. A dialer whose pipe does
// not match T or the codec gets refused, and Accept returns the error and
// may be called again.
func (l *Listener[T]) Accept(ctx context.Context) (*Conn[T], error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for {
		if l.done || l.closed.Load() != 0 {
			return nil, ErrClosed
		}
		old := l.seq.Load()
		if name, ok := l.takeOffer(); ok {
			c, err := l.accept(name)
			if c != nil || err != nil {
				return c, err
			}
			continue // abandoned by its dialer
		}
		if err := atomics.Await(ctx, l.seq, old, &atomics.WaitOptions{Strategy: l.o.Wait}); err != nil {
			return nil, err
		}
	}
}

// takeOffer takes the name out of a ready offer slot and frees the slot;
// it also frees slots claimed by dialers that died before they were ready,
// and removes their connection segments.
func (l *Listener[T]) takeOffer() (string, bool) {
	for i := range offerSlots {
		slot := l.body[lisOffers+i*offerSize : lisOffers+(i+1)*offerSize]
		claim := atomics.MustUint64At(slot, offerClaim)
		w := claim.Load()
		if w == 0 {
			continue
		}
		ready := atomics.MustUint32At(slot, offerReady)
		if ready.Load() != 1 { // sees the dialer's publication below
			l.sweep(slot, w)
			continue
		}
		if !ready.CompareAndSwap(1, 0) { // ready -> taken by this Accept; another Accept may race for it
			continue
		}
		name := offerNameOf(slot)
		claim.Store(0) // taken -> free: the dialer's name is read
		l.freed()
		return name, true
	}
	return "", false
}

// sweep frees a slot claimed (w) by a dialer that died before its offer
// was taken, and removes the connection segment it named; nothing when the
// dialer lives.
func (l *Listener[T]) sweep(slot []byte, w uint64) {
	if procinfo.AliveWord(w) {
		return
	}
	ready := atomics.MustUint32At(slot, offerReady)
	if ready.Load() == 1 && !ready.CompareAndSwap(1, 0) { // ready -> taken here, unless an Accept took it
		return
	}
	// The name before the slot is free: a new dialer may write another.
	name := offerNameOf(slot)
	if atomics.MustUint64At(slot, offerClaim).CompareAndSwap(w, 0) { // claimed -> free: its dialer died
		removeDead(name)
		l.freed()
	}
}

// freed tells dialers waiting for a free offer slot that one is.
func (l *Listener[T]) freed() {
	l.seq.Add(1)
	atomics.Wake(l.seq, -1)
}

// accept opens the connection segment name and takes its offer; nil, nil
// when the dialer abandoned it.
func (l *Listener[T]) accept(name string) (*Conn[T], error) {
	var seg *shm.Segment
	var err error
	if testHookAcceptOpen != nil {
		err = testHookAcceptOpen()
	}
	if err == nil {
		seg, err = shm.Open(name)
	}
	if errors.Is(err, shm.ErrNotExist) {
		return nil, nil // abandoned and unlinked
	}
	// The offer is taken: from here every failure refuses the dialer, or it
	// would wait for an accept that never comes.
	if err != nil {
		// No mapping (no descriptor left, say), so no accept word to mark:
		// the name's removal is the refusal, which the dialer's poll sees.
		shm.Unlink(name)
		return nil, fmt.Errorf("pipe: accept %q: %w", name, err)
	}
	word, err := acceptWord(seg)
	if err != nil {
		seg.Unlink() // the refusal, as above: no accept word to mark
		seg.Close()
		return nil, fmt.Errorf("pipe: accept %q: %w", name, err)
	}
	c, err := Open(seg, connObj, 0, l.o)
	if err != nil {
		refuse(seg, word)
		seg.Close()
		return nil, fmt.Errorf("pipe: accept %q: %w", name, err)
	}
	if !word.CompareAndSwap(acceptOffered, acceptTaken) { // offered -> taken, unless the dialer gave up
		c.Close()
		seg.Close()
		return nil, nil
	}
	atomics.Wake(word, -1)
	if testHookAccepted != nil {
		testHookAccepted()
	}
	seg.Unlink() // both ends are mapped: the name is no longer needed
	c.seg0 = &segRef{seg: seg}
	c.seg0.refs.Store(1) // the mapping is c's alone: its Close unmaps it
	c.unnamed = true     // no handle can name the segment now
	return c, nil
}

// refuse refuses the dialer of the connection segment seg, whose accept
// word is word, and removes the segment's name; nothing when the dialer
// has given up already.
func refuse(seg *shm.Segment, word *atomic.Uint32) {
	if word.CompareAndSwap(acceptOffered, acceptDropped) { // offered -> dropped: the dialer is refused
		atomics.Wake(word, -1)
		seg.Unlink()
	}
}

// testHookAccepted, nil but in tests, runs once Accept has taken a
// dialer's accept word, before it removes the name.
var testHookAccepted func()

// testHookAcceptOpen, nil but in tests, runs where Accept opens the
// connection segment of an offer it took; an error it returns stands for
// shm.Open's.
var testHookAcceptOpen func() error

func acceptWord(seg *shm.Segment) (*atomic.Uint32, error) {
	obj, err := seg.Lookup(acceptObj, &shm.ObjectSpec{Kind: shm.KindBytes})
	if err != nil {
		return nil, err
	}
	return atomics.Uint32At(obj.Body, 0)
}

// Close stops the listener and removes its name: a waiting Accept returns
// ErrClosed, and dialers waiting for an Accept get ErrRefused. Pipes already
// accepted are not affected. Close is idempotent.
func (l *Listener[T]) Close() error {
	if l.closing.Swap(true) {
		return nil // closed, or being closed: the segment may be unmapped already
	}
	l.closed.Store(1) // publishes: no more accepts; dialers poll it, and look before they sleep on a posted offer
	l.freed()         // wakes Accept
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	l.done = true
	// Dialers that died with an offer out: nobody else knows their
	// connection segments (live ones see closed and remove their own).
	// Live dialers whose offers are posted sleep on their accept words, not
	// on seq: they are refused here, or they would see the close only at
	// their next liveness poll.
	for i := range offerSlots {
		slot := l.body[lisOffers+i*offerSize : lisOffers+(i+1)*offerSize]
		if w := atomics.MustUint64At(slot, offerClaim).Load(); w != 0 {
			l.sweep(slot, w)
			refusePosted(slot)
		}
	}
	err := l.seg.Unlink()
	if cerr := l.seg.Close(); err == nil {
		err = cerr
	}
	return err
}

// refusePosted refuses the dialer of slot, a live one, if its offer is
// posted. A dialer that posts its offer after this look sees closed before
// it sleeps.
func refusePosted(slot []byte) {
	ready := atomics.MustUint32At(slot, offerReady)
	if !ready.CompareAndSwap(1, 0) { // ready -> taken by this Close; sees the dialer's publication
		return
	}
	seg, err := shm.Open(offerNameOf(slot))
	if err != nil {
		return // abandoned and unlinked, or out of reach: the dialer's poll sees closed
	}
	if word, err := acceptWord(seg); err == nil {
		refuse(seg, word)
	}
	seg.Close()
}

var dialCounter atomic.Int64

// testHookDialed, when set (by tests), runs once Dial's connection segment
// exists.
var testHookDialed func()

// Dial connects to the listener called name and returns this process's end
// of a new pipe (end 1) once the listener's process has accepted it (Python's
// multiprocessing.connection.Client). It returns ErrRefused when there is no
// such listener, or it closes, dies or fails to accept the pipe first (its
// Accept returns why), and ctx's error when ctx ends first; then nothing is
// left behind. o must name the listener's codec; o.Capacity sizes the pipe,
// and o.MaxMessage its largest message (by default the ring's largest
// record, as for Create).
func Dial[T any](ctx context.Context, name string, o Options[T]) (*Conn[T], error) {
	lseg, err := shm.Open(name)
	if errors.Is(err, shm.ErrNotExist) {
		return nil, fmt.Errorf("%w: no listener %q", ErrRefused, name)
	}
	if err != nil {
		return nil, fmt.Errorf("pipe: dial %q: %w", name, err)
	}
	defer lseg.Close()
	obj, err := lseg.Lookup(listenerObj, &shm.ObjectSpec{Kind: shm.KindBytes})
	if err != nil || len(obj.Body) < lisBody {
		return nil, fmt.Errorf("%w: %q is not a listener (%v)", ErrRefused, name, err)
	}
	lis := obj.Body
	seq := atomics.MustUint32At(lis, lisSeq)
	closed := atomics.MustUint32At(lis, lisClosed)
	owner := atomics.MustUint64At(lis, lisOwner)
	check := func() error {
		if testHookDialPoll != nil {
			testHookDialPoll()
		}
		if closed.Load() != 0 || !procinfo.AliveWord(owner.Load()) {
			return fmt.Errorf("%w: listener %q closed or exited", ErrRefused, name)
		}
		return nil
	}
	if err := check(); err != nil {
		return nil, err
	}

	// The connection: a segment of the dialer's, with the pipe and the
	// accept word. Its name goes into an offer slot of the listener before
	// the segment exists, so that whoever finds the slot's dialer dead (the
	// next Accept, the listener's Close) can remove it: a dialer killed at
	// any point leaves nothing in /dev/shm.
	capacity := o.Capacity
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	size, opts := sizeFor(o, capacity, false).segment(capacity, connSegExtra)
	wait := &atomics.WaitOptions{Strategy: o.Wait, Poll: pollListener, Check: check}
	slot, err := reserve(ctx, lis, seq, wait, func() error {
		if closed.Load() != 0 { // observes: the listener's Close, whose wake ended our wait
			return fmt.Errorf("%w: listener %q closed", ErrRefused, name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	release := func() { // the slot goes back unused
		atomics.MustUint64At(slot, offerClaim).Store(0) // claimed -> free
		seq.Add(1)
		atomics.Wake(seq, -1)
	}
	var seg *shm.Segment
	var connName string
	for {
		connName = name + "." + strconv.Itoa(int(procinfo.Self().Pid)) + "." + strconv.FormatInt(dialCounter.Add(1), 10)
		setOfferName(slot, connName)
		seg, err = shm.Create(connName, size, opts...)
		if !errors.Is(err, shm.ErrExist) {
			break
		}
	}
	if err != nil {
		release()
		return nil, fmt.Errorf("pipe: dial %q: %w", name, err)
	}
	fail := func(err error) (*Conn[T], error) {
		seg.Unlink()
		seg.Close()
		return nil, err
	}
	failReserved := func(err error) (*Conn[T], error) {
		c, err := fail(err)
		release()
		return c, err
	}
	aobj, err := seg.Alloc(acceptObj, shm.ObjectSpec{Kind: shm.KindBytes, BodySize: 8}, nil)
	if err != nil {
		return failReserved(fmt.Errorf("pipe: dial %q: %w", name, err))
	}
	word := atomics.MustUint32At(aobj.Body, 0)
	_, c, err := Create(seg, connObj, o)
	if err != nil {
		return failReserved(fmt.Errorf("pipe: dial %q: %w", name, err))
	}
	if testHookDialed != nil {
		testHookDialed()
	}
	// An Accept that took the offer and could not map the segment refuses
	// it by removing its name: the poll looks for that too.
	acceptWait := *wait
	acceptWait.Check = func() error {
		if err := check(); err != nil {
			return err
		}
		if _, err := shm.Stat(connName); errors.Is(err, shm.ErrNotExist) {
			return fmt.Errorf("%w: listener %q could not open the pipe", ErrRefused, name)
		}
		return nil
	}
	atomics.MustUint32At(slot, offerReady).Store(1) // publishes: the connection is ready
	seq.Add(1)
	atomics.Wake(seq, -1) // wakes Accept

	for {
		switch word.Load() {
		case acceptTaken: // sees Accept's CAS: end 0 is held
			// Both ends are mapped. Accept removes the name next, but a
			// listener killed before it does would leave it for good: gc
			// spares the segment of a live creator, this process.
			seg.Unlink()
			c.seg0 = &segRef{seg: seg}
			c.seg0.refs.Store(1) // the mapping is c's alone: its Close unmaps it
			c.unnamed = true     // no handle can name the segment now
			return c, nil
		case acceptDropped:
			if closed.Load() != 0 { // refused by the listener's Close
				return fail(fmt.Errorf("%w: listener %q closed", ErrRefused, name))
			}
			return fail(fmt.Errorf("%w: listener %q did not accept the pipe (its type or codec differs?)", ErrRefused, name))
		}
		// A Close that looked at the offer slots before our offer was ready
		// did not refuse us: its closed store is seen here, before we sleep.
		var err error
		if closed.Load() != 0 { // observes: the listener's Close
			err = fmt.Errorf("%w: listener %q closed", ErrRefused, name)
		} else {
			err = atomics.Await(ctx, word, acceptOffered, &acceptWait)
		}
		if err != nil {
			if word.CompareAndSwap(acceptOffered, acceptDropped) { // offered -> dropped: Accept will skip it
				return fail(err)
			}
			// Accepted meanwhile (or refused): the loop says which.
		}
	}
}

// reserve claims a free offer slot of the listener body lis for this
// dialer, waiting for one while all are taken, and returns it. closed
// says, at each look, whether the listener has closed (its Close bumps
// seq too, so a waiting dialer looks at once, not at its next poll).
func reserve(ctx context.Context, lis []byte, seq *atomic.Uint32, wait *atomics.WaitOptions, closed func() error) ([]byte, error) {
	me := procinfo.Self().Word()
	for {
		old := seq.Load()
		if err := closed(); err != nil {
			return nil, err
		}
		for i := range offerSlots {
			slot := lis[lisOffers+i*offerSize : lisOffers+(i+1)*offerSize]
			if atomics.MustUint64At(slot, offerClaim).CompareAndSwap(0, me) { // free -> claimed by this dialer
				return slot, nil
			}
		}
		if testHookReserveWait != nil {
			testHookReserveWait()
		}
		if err := atomics.Await(ctx, seq, old, wait); err != nil {
			return nil, err
		}
	}
}

// testHookReserveWait and testHookDialPoll, nil but in tests, run before a
// dialer waits for a free offer slot and at each of its liveness polls.
var testHookReserveWait, testHookDialPoll func()

// setOfferName writes connName into a claimed slot; the length, stored
// last, publishes it.
func setOfferName(slot []byte, connName string) {
	length := atomics.MustUint32At(slot, offerLen)
	length.Store(0)
	copy(slot[offerName:], connName)
	length.Store(uint32(len(connName))) // publishes: the name is in
}

// offerNameOf reads a slot's name ("" when none is in).
func offerNameOf(slot []byte) string {
	n := int(atomics.MustUint32At(slot, offerLen).Load()) // observes: the name is in
	if n > offerNameMax {
		n = 0 // garbage: an empty name opens nothing
	}
	return string(slot[offerName : offerName+n])
}

// removeDead removes the connection segment name of a dialer that died,
// unless a live process created it (a later process with the dead one's
// PID, say).
func removeDead(name string) {
	if name == "" {
		return
	}
	if info, err := shm.Stat(name); err == nil && !info.CreatorAlive {
		shm.Unlink(name)
	}
}
