package manager

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"iter"
)

// Dict is a proxy for a dictionary in a manager's server, Python's
// manager.dict() kept in key order: a B-tree (tidwall/btree) of K to V.
// Each method is one round trip and is applied whole, atomically, in the
// server. Numbers, strings and other values travel as the value codec says
// (see the package documentation). A Dict travels to workers among
// process.Start's arguments and reconnects there; it is safe for concurrent
// use.
//
// A value read from a Dict is a copy: changing it changes nothing in the
// server (Python's "mutable value not propagated"). Set it back, or change
// it in the server in one step with Update, Add or CompareAndSwap.
type Dict[K cmp.Ordered, V any] struct {
	ref
}

// Item is a Dict's key and value.
type Item[K cmp.Ordered, V any] struct {
	Key   K
	Value V
}

// NewDict makes an empty Dict in m's server (Python's manager.dict()).
func NewDict[K cmp.Ordered, V any](ctx context.Context, m *Manager) (*Dict[K, V], error) {
	r, err := m.create(ctx, kindDict, "")
	if err != nil {
		return nil, err
	}
	return &Dict[K, V]{ref: r}, nil
}

// The codecs are derived from the type parameters each call; they cost a
// reflect.Kind switch.
func (d *Dict[K, V]) kk() keyKind       { return kindOfKey[K]() }
func (d *Dict[K, V]) vc() valueCodec[V] { return newValueCodec[V]() }
func (d *Dict[K, V]) putKey(w *wbuf, k K) {
	at := w.open()
	w.b = fixLength(appendKey(w.b, d.kk(), k), at)
}
func (d *Dict[K, V]) putValue(w *wbuf, v V) error {
	at := w.open()
	b, err := d.vc().appendValue(w.b, &v)
	if err != nil {
		return err
	}
	w.b = fixLength(b, at)
	return nil
}

// Get returns the value of k, and whether it is present (Python's d.get(k)).
func (d *Dict[K, V]) Get(ctx context.Context, k K) (v V, ok bool, err error) {
	c, w, err := d.begin(opDictGet)
	if err != nil {
		return v, false, err
	}
	d.putKey(w, k)
	r, t, err := c.send(ctx, w.b)
	putBuf(w)
	if err == nil {
		ok = r.bool()
		if b := r.bytes(); ok {
			err = d.vc().decodeValue(b, &v)
		}
	}
	return v, ok, c.finish(t, &r, err)
}

// Set sets k to v (Python's d[k] = v).
func (d *Dict[K, V]) Set(ctx context.Context, k K, v V) error {
	c, w, err := d.begin(opDictSet)
	if err != nil {
		return err
	}
	d.putKey(w, k)
	if err := d.putValue(w, v); err != nil {
		putBuf(w)
		return err
	}
	r, t, err := c.send(ctx, w.b)
	putBuf(w)
	return c.finish(t, &r, err)
}

// SetDefault sets k to v unless k is present, and returns the value k then
// has (Python's d.setdefault(k, v)), atomically.
func (d *Dict[K, V]) SetDefault(ctx context.Context, k K, v V) (V, error) {
	var cur V
	err := d.call(ctx, opDictSetDef, func(w *wbuf) error { d.putKey(w, k); return d.putValue(w, v) },
		func(r *rbuf) error { return d.vc().decodeValue(r.bytes(), &cur) })
	return cur, err
}

// Delete removes k and reports whether it was present (Python's del d[k],
// without the KeyError).
func (d *Dict[K, V]) Delete(ctx context.Context, k K) (bool, error) {
	var ok bool
	err := d.call(ctx, opDictDelete, func(w *wbuf) error { d.putKey(w, k); return nil },
		func(r *rbuf) error { ok = r.bool(); return nil })
	return ok, err
}

// Contains reports whether k is present (Python's k in d).
func (d *Dict[K, V]) Contains(ctx context.Context, k K) (bool, error) {
	var ok bool
	err := d.call(ctx, opDictHas, func(w *wbuf) error { d.putKey(w, k); return nil },
		func(r *rbuf) error { ok = r.bool(); return nil })
	return ok, err
}

// Len returns the number of keys (Python's len(d)).
func (d *Dict[K, V]) Len(ctx context.Context) (int, error) {
	var n uint64
	err := d.call(ctx, opDictLen, nil, func(r *rbuf) error { n = r.uvarint(); return nil })
	return int(n), err
}

// Clear removes every key (Python's d.clear()).
func (d *Dict[K, V]) Clear(ctx context.Context) error {
	return d.call(ctx, opDictClear, nil, nil)
}

// CompareAndSwap sets k to nv if its value is old, and reports whether it
// did, atomically. Values compare by their encodings: equal numbers,
// strings and fixed-size values always match; values with maps inside may
// encode differently each time and should use Update instead.
func (d *Dict[K, V]) CompareAndSwap(ctx context.Context, k K, old, nv V) (bool, error) {
	return d.cas(ctx, k, true, old, nv)
}

// SetIfAbsent sets k to v if k is absent, and reports whether it did.
func (d *Dict[K, V]) SetIfAbsent(ctx context.Context, k K, v V) (bool, error) {
	var zero V
	return d.cas(ctx, k, false, zero, v)
}

func (d *Dict[K, V]) cas(ctx context.Context, k K, haveOld bool, old, nv V) (bool, error) {
	var ok bool
	err := d.call(ctx, opDictCAS, func(w *wbuf) error {
		d.putKey(w, k)
		w.bool(haveOld)
		if err := d.putValue(w, old); err != nil {
			return err
		}
		return d.putValue(w, nv)
	}, func(r *rbuf) error { ok = r.bool(); return nil })
	return ok, err
}

// Add adds delta to the number at k (an absent key counts as zero) and
// returns the sum, atomically: Python's d[k] += delta, which through a
// proxy is a get and a set that other processes interleave with. V must be
// an integer or floating-point type (ErrNotNumber otherwise). The sum is
// V's arithmetic: an int8 wraps at 8 bits, a float32 sum is a float32, so
// that the value stored is the value Get reads and CompareAndSwap compares.
func (d *Dict[K, V]) Add(ctx context.Context, k K, delta V) (V, error) {
	var sum V
	vc := d.vc()
	if !vc.numeric() {
		return sum, ErrNotNumber
	}
	c, w, err := d.begin(opDictAdd)
	if err != nil {
		return sum, err
	}
	d.putKey(w, k)
	if err := d.putValue(w, delta); err != nil {
		putBuf(w)
		return sum, err
	}
	w.byte(vc.width())
	r, t, err := c.send(ctx, w.b)
	putBuf(w)
	if err == nil {
		err = vc.decodeValue(r.bytes(), &sum)
	}
	return sum, c.finish(t, &r, err)
}

// Update runs a registered update function on k's value in the server, in
// one round trip with the Dict locked, stores what it returns and returns
// it too (see RegisterUpdate).
func (d *Dict[K, V]) Update(ctx context.Context, k K, u Update[V]) (V, error) {
	var nv V
	if u.err != nil {
		return nv, u.err
	}
	err := d.call(ctx, opDictUpdate, func(w *wbuf) error { d.putKey(w, k); u.put(w); return nil },
		func(r *rbuf) error { return d.vc().decodeValue(r.bytes(), &nv) })
	return nv, err
}

// SetMany sets every key of items to its value, in one round trip, all at
// once (Python's d.update(items)). The request is one message, of at most
// MaxMessage bytes (ErrTooLarge).
func (d *Dict[K, V]) SetMany(ctx context.Context, items map[K]V) error {
	return d.call(ctx, opDictSetMany, func(w *wbuf) error {
		w.uvarint(uint64(len(items)))
		for k, v := range items {
			d.putKey(w, k)
			if err := d.putValue(w, v); err != nil {
				return err
			}
		}
		return nil
	}, nil)
}

// GetMany returns the values of the keys present among keys, in one round
// trip, as one consistent reading.
func (d *Dict[K, V]) GetMany(ctx context.Context, keys ...K) (map[K]V, error) {
	out := make(map[K]V, len(keys))
	err := d.call(ctx, opDictGetMany, func(w *wbuf) error {
		w.uvarint(uint64(len(keys)))
		for _, k := range keys {
			d.putKey(w, k)
		}
		return nil
	}, func(r *rbuf) error {
		n := r.count()
		if n != len(keys) {
			return ErrBadReply
		}
		vc := d.vc()
		for i := range n {
			ok, b := r.bool(), r.bytes()
			if ok {
				var v V
				if err := vc.decodeValue(b, &v); err != nil {
					return err
				}
				out[keys[i]] = v
			}
		}
		return nil
	})
	return out, err
}

// pageItems is how many items one page of an iteration asks for.
const pageItems = 1024

// All returns an iterator over the items in key order (Python's
// d.items(), sorted). It fetches them in pages, each one round trip and
// one consistent reading; changes made between pages may or may not be
// seen, as with a Go map changed during range. An error (ctx done, the
// server gone) is yielded once, with a zero Item, and ends it.
func (d *Dict[K, V]) All(ctx context.Context) iter.Seq2[Item[K, V], error] {
	return d.scan(ctx, nil, nil, true)
}

// Range is All from the first key >= from to the last key < to.
func (d *Dict[K, V]) Range(ctx context.Context, from, to K) iter.Seq2[Item[K, V], error] {
	return d.scan(ctx, &from, &to, true)
}

// From is All from the first key >= from.
func (d *Dict[K, V]) From(ctx context.Context, from K) iter.Seq2[Item[K, V], error] {
	return d.scan(ctx, &from, nil, true)
}

// Keys returns an iterator over the keys in order (Python's d.keys()).
func (d *Dict[K, V]) Keys(ctx context.Context) iter.Seq2[K, error] {
	return func(yield func(K, error) bool) {
		for it, err := range d.scan(ctx, nil, nil, false) {
			if !yield(it.Key, err) {
				return
			}
		}
	}
}

// Values returns an iterator over the values in key order (Python's
// d.values()).
func (d *Dict[K, V]) Values(ctx context.Context) iter.Seq2[V, error] {
	return func(yield func(V, error) bool) {
		for it, err := range d.All(ctx) {
			if !yield(it.Value, err) {
				return
			}
		}
	}
}

// Map returns a copy of the whole Dict (Python's d.copy()), fetched as All
// does.
func (d *Dict[K, V]) Map(ctx context.Context) (map[K]V, error) {
	m := make(map[K]V)
	for it, err := range d.All(ctx) {
		if err != nil {
			return nil, err
		}
		m[it.Key] = it.Value
	}
	return m, nil
}

// scanRaw is Keys for a Dict whose values are of any type.
func (d *Dict[K, V]) scanRaw(ctx context.Context) iter.Seq2[K, error] { return d.Keys(ctx) }

// scan iterates over the items from from (nil: the first) to to (nil: the
// last), their values decoded or left zero.
func (d *Dict[K, V]) scan(ctx context.Context, from, to *K, values bool) iter.Seq2[Item[K, V], error] {
	return func(yield func(Item[K, V], error) bool) {
		var after []byte
		kk, vc := d.kk(), d.vc()
		for first := true; ; first = false {
			var items []Item[K, V]
			var more bool
			err := d.call(ctx, opDictPage, func(w *wbuf) error {
				var flags byte
				if from != nil {
					flags |= pageFrom
				}
				if to != nil {
					flags |= pageTo
				}
				if !first {
					flags |= pageAfter
				}
				w.byte(flags)
				for _, k := range []*K{from, to} {
					if k != nil {
						d.putKey(w, *k)
					} else {
						w.uvarint(0)
					}
				}
				w.bytes(after)
				w.uvarint(pageItems)
				return nil
			}, func(r *rbuf) error {
				// The reply is the server's shared memory: a page must hold
				// no more items than asked for (its count sizes items), and
				// move on, each key past the last one, else the loop would
				// ask for the same page for ever.
				n := r.count()
				if n > pageItems {
					return fmt.Errorf("%w: a page of %d items, at most %d asked for", ErrBadReply, n, pageItems)
				}
				for i := range n {
					kb, vb := r.bytes(), r.bytes()
					if (!first || i > 0) && bytes.Compare(kb, after) <= 0 {
						return fmt.Errorf("%w: a page's keys out of order", ErrBadReply)
					}
					k, err := decodeKey[K](kk, kb)
					if err != nil {
						return err
					}
					var v V
					if values {
						if err := vc.decodeValue(vb, &v); err != nil {
							return err
						}
					}
					items = append(items, Item[K, V]{k, v})
					after = append(after[:0], kb...)
				}
				more = r.bool()
				if more && n == 0 {
					return fmt.Errorf("%w: an empty page with more to come", ErrBadReply)
				}
				return nil
			})
			if err != nil {
				yield(Item[K, V]{}, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if !more {
				return
			}
		}
	}
}

// GobEncode encodes a handle to the Dict: its server's address and the
// object's id. Among process.Start's arguments, it reaches the worker as a
// live proxy.
func (p Dict[K, V]) GobEncode() ([]byte, error) { return p.encode() }

// GobDecode connects this process to the server a handle names.
func (p *Dict[K, V]) GobDecode(b []byte) error { return p.decode(b) }
