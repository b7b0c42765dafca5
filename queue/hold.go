package queue

import "github.com/shmkit/shmkit/internal/qhold"

// A hold is a call in flight on a handle for as long as its holder works
// on the queue through a handle of its own over the same mapping: Send of
// package bridge opens one on q's segment, whose memory q's Close unmaps
// when q owns the segment (New, or decoded in a worker). The Close tells
// the holder to stop (closing) and waits for its release, as it waits for
// q's own calls; unheld, Send's Get faulted on the unmapped page
// (TestSendQueueClosed).
func init() { qhold.Hold = holdQueue }

type holder interface {
	hold() (closing <-chan struct{}, release func(), ok bool)
}

func holdQueue(q any) (<-chan struct{}, func(), bool) {
	h, ok := q.(holder)
	if !ok {
		return nil, nil, false
	}
	return h.hold()
}

// hold counts a call in on q until release; ok is false when q is closed.
func (q *Queue[T]) hold() (<-chan struct{}, func(), bool) {
	if !q.enter() {
		return nil, nil, false
	}
	q.holdMu.Lock()
	defer q.holdMu.Unlock()
	if q.holdCh == nil {
		q.holdCh = make(chan struct{})
		if q.holdClosed { // Close passed endHolds after this hold entered
			close(q.holdCh)
		}
	}
	return q.holdCh, q.calls.leave, true
}

// endHolds tells q's holders that q is closing; Close calls it once,
// before it waits for the calls in flight (the holds among them).
func (q *Queue[T]) endHolds() {
	q.holdMu.Lock()
	defer q.holdMu.Unlock()
	q.holdClosed = true
	if q.holdCh != nil {
		close(q.holdCh)
	}
}
