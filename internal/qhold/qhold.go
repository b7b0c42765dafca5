// Package qhold lets package bridge hold a queue handle open while it works
// on the queue through a handle of its own, over the same mapping, without a
// public method on queue.Queue.
package qhold

// Hold, set by package queue, counts a call in on q, a *queue.Queue[T], as
// each of its methods does: q's Close closes closing, then waits for
// release before it unmaps anything. ok is false when q is closed (or not a
// queue), and nothing is held then.
var Hold func(q any) (closing <-chan struct{}, release func(), ok bool)
