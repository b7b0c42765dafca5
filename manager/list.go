package manager

import (
	"context"
	"fmt"
	"iter"
	"math"
)

// List is a proxy for a list in a manager's server, Python's
// manager.list(). Indexes follow Python: a negative index counts from the
// end, and an index out of range is ErrIndex. Each method is one round trip,
// applied whole, atomically, in the server; values compare (Index, Remove,
// CompareAndSwap) by their encodings. A List travels to workers among
// process.Start's arguments and reconnects there; it is safe for concurrent
// use.
//
// A value read from a List is a copy: changing it changes nothing in the
// server. Set it back, or change it in the server with Update or Add.
type List[V any] struct {
	ref
}

// NewList makes a List in m's server holding vs (Python's
// manager.list(vs)).
func NewList[V any](ctx context.Context, m *Manager, vs ...V) (*List[V], error) {
	r, err := m.create(ctx, kindList, "")
	if err != nil {
		return nil, err
	}
	l := &List[V]{ref: r}
	if len(vs) > 0 {
		if _, err := l.Extend(ctx, vs...); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *List[V]) vc() valueCodec[V] { return newValueCodec[V]() }

func (l *List[V]) putValue(w *wbuf, v V) error {
	at := w.open()
	b, err := l.vc().appendValue(w.b, &v)
	if err != nil {
		return err
	}
	w.b = fixLength(b, at)
	return nil
}

func (l *List[V]) readValue(v *V) func(r *rbuf) error {
	return func(r *rbuf) error { return l.vc().decodeValue(r.bytes(), v) }
}

// Append adds v at the end and returns the new length (Python's
// l.append(v)).
func (l *List[V]) Append(ctx context.Context, v V) (int, error) {
	c, w, err := l.begin(opListAppend)
	if err != nil {
		return 0, err
	}
	if err := l.putValue(w, v); err != nil {
		putBuf(w)
		return 0, err
	}
	r, t, err := c.send(ctx, w.b)
	putBuf(w)
	var n uint64
	if err == nil {
		n = r.uvarint()
	}
	return int(n), c.finish(t, &r, err)
}

// Extend adds vs at the end, all at once, and returns the new length
// (Python's l.extend(vs)). The request is one message, of at most
// MaxMessage bytes (ErrTooLarge).
func (l *List[V]) Extend(ctx context.Context, vs ...V) (int, error) {
	var n uint64
	err := l.call(ctx, opListExtend, func(w *wbuf) error {
		w.uvarint(uint64(len(vs)))
		for _, v := range vs {
			if err := l.putValue(w, v); err != nil {
				return err
			}
		}
		return nil
	}, func(r *rbuf) error { n = r.uvarint(); return nil })
	return int(n), err
}

// Insert inserts v before index i (Python's l.insert(i, v): an index past
// either end inserts at that end).
func (l *List[V]) Insert(ctx context.Context, i int, v V) error {
	return l.call(ctx, opListInsert, func(w *wbuf) error { w.varint(int64(i)); return l.putValue(w, v) }, nil)
}

// Index returns the index of the first item equal to v, or ErrNotFound
// (Python's l.index(v)).
func (l *List[V]) Index(ctx context.Context, v V) (int, error) {
	var i uint64
	err := l.call(ctx, opListIndex, func(w *wbuf) error { return l.putValue(w, v) },
		func(r *rbuf) error { i = r.uvarint(); return nil })
	if err != nil {
		return -1, err
	}
	return int(i), nil
}

// Remove removes the first item equal to v, or returns ErrNotFound
// (Python's l.remove(v)).
func (l *List[V]) Remove(ctx context.Context, v V) error {
	return l.call(ctx, opListRemove, func(w *wbuf) error { return l.putValue(w, v) }, nil)
}

// Pop removes the item at index i and returns it (Python's l.pop(i); -1 is
// the last).
func (l *List[V]) Pop(ctx context.Context, i int) (V, error) {
	var v V
	err := l.call(ctx, opListPop, func(w *wbuf) error { w.varint(int64(i)); return nil }, l.readValue(&v))
	return v, err
}

// Get returns the item at index i (Python's l[i]).
func (l *List[V]) Get(ctx context.Context, i int) (V, error) {
	var v V
	err := l.call(ctx, opListGet, func(w *wbuf) error { w.varint(int64(i)); return nil }, l.readValue(&v))
	return v, err
}

// Set sets the item at index i to v (Python's l[i] = v).
func (l *List[V]) Set(ctx context.Context, i int, v V) error {
	return l.call(ctx, opListSet, func(w *wbuf) error { w.varint(int64(i)); return l.putValue(w, v) }, nil)
}

// Len returns the number of items (Python's len(l)).
func (l *List[V]) Len(ctx context.Context) (int, error) {
	var n uint64
	err := l.call(ctx, opListLen, nil, func(r *rbuf) error { n = r.uvarint(); return nil })
	return int(n), err
}

// Add adds delta to the number at index i and returns the sum, atomically
// (see Dict.Add).
func (l *List[V]) Add(ctx context.Context, i int, delta V) (V, error) {
	var sum V
	if !l.vc().numeric() {
		return sum, ErrNotNumber
	}
	err := l.call(ctx, opListAdd, func(w *wbuf) error {
		w.varint(int64(i))
		if err := l.putValue(w, delta); err != nil {
			return err
		}
		w.byte(l.vc().width())
		return nil
	}, l.readValue(&sum))
	return sum, err
}

// Update runs a registered update function on the item at index i in the
// server (ok is true), stores its result and returns it (see
// RegisterUpdate).
func (l *List[V]) Update(ctx context.Context, i int, u Update[V]) (V, error) {
	var nv V
	if u.err != nil {
		return nv, u.err
	}
	err := l.call(ctx, opListUpdate, func(w *wbuf) error { w.varint(int64(i)); u.put(w); return nil },
		l.readValue(&nv))
	return nv, err
}

// CompareAndSwap sets the item at index i to nv if it is old, and reports
// whether it did (see Dict.CompareAndSwap).
func (l *List[V]) CompareAndSwap(ctx context.Context, i int, old, nv V) (bool, error) {
	var ok bool
	err := l.call(ctx, opListCAS, func(w *wbuf) error {
		w.varint(int64(i))
		if err := l.putValue(w, old); err != nil {
			return err
		}
		return l.putValue(w, nv)
	}, func(r *rbuf) error { ok = r.bool(); return nil })
	return ok, err
}

// Slice returns the items from index start up to stop (Python's
// l[start:stop], negative bounds from the end, clamped), fetched in pages
// as All does. Slice(ctx, 0, math.MaxInt) is the whole List.
func (l *List[V]) Slice(ctx context.Context, start, stop int) ([]V, error) {
	var out []V
	for v, err := range l.slice(ctx, start, stop) {
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// All returns an iterator over the items in order. It fetches them in
// pages, each one round trip and one consistent reading, by index: an item
// inserted or removed before the position reached meanwhile shifts the
// rest, as in Python. An error is yielded once, with the zero V, and ends
// it.
func (l *List[V]) All(ctx context.Context) iter.Seq2[V, error] {
	return l.slice(ctx, 0, maxIndex)
}

const maxIndex = math.MaxInt >> 1 // 1<<62 - 1 on 64 bits (a constant of that did not build on 32)

func (l *List[V]) slice(ctx context.Context, start, stop int) iter.Seq2[V, error] {
	return func(yield func(V, error) bool) {
		vc := l.vc()
		if start < 0 || stop < 0 {
			// Resolve negative bounds once, against the current length.
			n, err := l.Len(ctx)
			if err != nil {
				var zero V
				yield(zero, err)
				return
			}
			start, stop = int(clampSlice(int64(start), int64(n))), int(clampSlice(int64(stop), int64(n)))
		}
		for start < stop {
			var page []V
			err := l.call(ctx, opListSlice, func(w *wbuf) error {
				w.varint(int64(start))
				w.varint(int64(stop))
				w.uvarint(pageItems)
				return nil
			}, func(r *rbuf) error {
				// The count is the server's shared memory: no more items
				// than asked for, which bounds what it sizes.
				n := r.count()
				if n > min(pageItems, stop-start) {
					return fmt.Errorf("%w: a page of %d items, at most %d asked for", ErrBadReply, n, min(pageItems, stop-start))
				}
				for range n {
					var v V
					if err := vc.decodeValue(r.bytes(), &v); err != nil {
						return err
					}
					page = append(page, v)
				}
				return nil
			})
			if err != nil {
				var zero V
				yield(zero, err)
				return
			}
			if len(page) == 0 {
				return
			}
			for _, v := range page {
				if !yield(v, nil) {
					return
				}
			}
			start += len(page)
		}
	}
}

// GobEncode encodes a handle to the List: its server's address and the
// object's id. Among process.Start's arguments, it reaches the worker as a
// live proxy.
func (p List[V]) GobEncode() ([]byte, error) { return p.encode() }

// GobDecode connects this process to the server a handle names.
func (p *List[V]) GobDecode(b []byte) error { return p.decode(b) }
