package manager

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"unsafe"

	"github.com/tidwall/btree"
)

// store is the server's side: its objects by id, and the request handler
// that every transport calls. Each request runs under its object's mutex,
// whole: a client that dies mid-request has either sent the whole request
// (it is applied) or not (its transport never delivers it).
type store struct {
	mu      sync.RWMutex       // guards objects and next
	objects map[uint64]*object // written by opNew, read by every request
	next    uint64
	maxMsg  int // largest reply the transports carry
	pageMsg int // the size a page of an iteration stops at (it takes one item of any size up to maxMsg)
}

// object is one served object; mu serialises the requests on it.
type object struct {
	mu   sync.Mutex
	kind byte
	dict *btree.Map[string, []byte] // kindDict: encoded key -> tagged value
	list [][]byte                   // kindList: tagged values
	user any                        // kindUser: the registered type's *T
	typ  *userType                  // kindUser
}

func newStore(maxMsg, pageMsg int) *store {
	return &store{objects: make(map[uint64]*object), maxMsg: maxMsg, pageMsg: min(pageMsg, maxMsg)}
}

// badRequest is a request that does not decode.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

// handle applies one request and appends its reply to dst. req may be
// shared memory: whatever is kept is copied.
func (s *store) handle(req []byte, dst []byte) []byte {
	b, _ := s.apply(context.Background(), req, dst, true) // never done: it waits for the mutex
	return b
}

// handleContext is handle for a caller in the server's own process (New's
// local transport), which waits for the object's mutex only until ctx is
// done: it then returns ctx's error, having applied nothing, as a call
// through a pipe returns without waiting for its reply.
func (s *store) handleContext(ctx context.Context, req []byte, dst []byte) ([]byte, error) {
	b, ok := s.apply(ctx, req, dst, true)
	if !ok {
		return dst, ctx.Err()
	}
	return b, nil
}

// quickMax is the largest request that tryHandle applies: a larger one
// (a batch) may take long enough to delay the other clients.
const quickMax = 4 << 10

// tryHandle is handle for a goroutine that serves many clients (the
// poller): it applies req only when that cannot take long, and reports
// false, having done nothing, when req runs a user's code (a registered
// type's constructor or method, an update function), is larger than
// quickMax, or would wait for its object's mutex.
func (s *store) tryHandle(req []byte, dst []byte) ([]byte, bool) {
	if len(req) > quickMax {
		return dst, false
	}
	return s.apply(context.Background(), req, dst, false)
}

// apply is handle, tryHandle when block is false, and handleContext: it
// reports false, having done nothing, when ctx ends while it waits for the
// object's mutex (handle's context.Background never does).
func (s *store) apply(ctx context.Context, req []byte, dst []byte, block bool) ([]byte, bool) {
	w := wbuf{b: append(dst[:0], statusOK)}
	r := rbuf{b: req}
	o := op(r.byte())
	id := r.uvarint()
	if r.err != nil {
		return errorReply(w.b[:0], badRequest{"short request"}), true
	}
	if !block && (o == opDictUpdate || o == opListUpdate || o == opNew && r.peekByte() == kindUser) {
		return dst, false
	}
	var err error
	switch o {
	case opPing:
	case opNew:
		err = s.create(&r, &w)
	default:
		s.mu.RLock()
		obj := s.objects[id]
		s.mu.RUnlock()
		if obj == nil {
			return append(w.b[:0], statusNoObject), true
		}
		switch {
		case !block:
			if obj.kind == kindUser || !obj.mu.TryLock() {
				return dst, false
			}
		case !lockContext(ctx, &obj.mu):
			return dst, false
		}
		switch obj.kind {
		case kindDict:
			err = s.dictOp(obj, o, &r, &w)
		case kindList:
			err = s.listOp(obj, o, &r, &w)
		case kindUser:
			err = callMethod(obj, o, &r, &w)
		}
		obj.mu.Unlock()
	}
	if err == nil && r.err != nil {
		err = badRequest{"malformed operands"}
	}
	if err == nil && len(w.b) > s.maxMsg {
		err = ErrTooLarge
	}
	if err != nil {
		return errorReply(w.b[:0], err), true
	}
	return w.b, true
}

// lockContext locks mu, or reports false when ctx is done first, mu
// untouched. sync.Mutex has no wait that a context ends: when mu is held,
// a goroutine waits for it in the caller's stead and hands it over on an
// unbuffered channel, so that either the caller receives it or, the caller
// gone, the goroutine unlocks it again; nothing else pays for it.
func lockContext(ctx context.Context, mu *sync.Mutex) bool {
	if mu.TryLock() {
		return true
	}
	if ctx.Done() == nil {
		mu.Lock()
		return true
	}
	got := make(chan struct{})
	go func() {
		mu.Lock()
		select {
		case got <- struct{}{}: // the caller holds mu now
		case <-ctx.Done():
			mu.Unlock() // the caller has gone, or goes without it
		}
	}()
	select {
	case <-got:
		return true
	case <-ctx.Done():
		return false
	}
}

func errorReply(dst []byte, err error) []byte {
	w := wbuf{b: dst}
	var ue *UpdateError
	var br badRequest
	switch {
	case errors.As(err, &ue):
		w.byte(statusUpdate)
		w.str(ue.Name)
		w.str(ue.Msg)
		return w.b
	case errors.As(err, &br):
		w.byte(statusBadRequest)
		w.str(br.msg)
		return w.b
	}
	for s, e := range statusErrors {
		if errors.Is(err, e) {
			w.byte(s)
			return w.b
		}
	}
	w.byte(statusBadRequest)
	w.str(err.Error())
	return w.b
}

func (s *store) create(r *rbuf, w *wbuf) error {
	kind := r.byte()
	name := string(r.bytes())
	if r.err != nil {
		return nil // apply refuses it: no object made
	}
	obj := &object{kind: kind}
	switch kind {
	case kindDict:
		obj.dict = new(btree.Map[string, []byte])
	case kindList:
	case kindUser:
		t := lookupType(name)
		if t == nil {
			return &UpdateError{Name: name, Msg: ErrNotRegistered.Error()}
		}
		obj.typ = t
		if _, err := guard(func() ([]byte, error) { obj.user = t.new(); return nil, nil }); err != nil {
			return &UpdateError{Name: name, Msg: err.Error()}
		}
	default:
		return badRequest{"unknown object kind"}
	}
	s.mu.Lock()
	s.next++
	id := s.next
	s.objects[id] = obj
	s.mu.Unlock()
	w.uvarint(id)
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// entry copies a dict's key and value into one allocation, the key a
// string before the value, for a B-tree item: one allocation a set, not
// two, and one object for the collector to trace. A Set replaces both.
func entry(k, v []byte) (string, []byte) {
	b := make([]byte, len(k)+len(v))
	n := copy(b, k)
	copy(b[n:], v)
	return unsafe.String(unsafe.SliceData(b), n), b[n:len(b):len(b)]
}

// view is k as a string without a copy, for a lookup that keeps nothing
// (Get, Delete): k stays mapped for the request's time.
func view(k []byte) string { return unsafe.String(unsafe.SliceData(k), len(k)) }

// pageBudget bounds a reply that lists items: a page stops before it
// passes it, and the client asks for the next one. The first item of a
// page is taken whatever its size, up to the reply limit itself, counted
// exactly: a page spends about as many bytes around an item as the
// request that stored it (lengths as short uvarints where the request has
// open's five bytes), so an item that a Set or Append carried comes out of
// an iteration too, but for one within 3 bytes of MaxMessage.
func (s *store) pageBudget(first bool) int {
	if first {
		return s.maxMsg
	}
	return s.pageMsg - 64
}

func (s *store) dictOp(obj *object, o op, r *rbuf, w *wbuf) error {
	d := obj.dict
	switch o {
	case opDictGet:
		v, ok := d.Get(view(r.bytes()))
		w.bool(ok)
		w.bytes(v)
	case opDictSet:
		k, v := r.bytes(), r.bytes()
		if r.err != nil {
			return nil
		}
		// A value of the old one's size is written over it in place: no
		// allocation, no garbage. Nothing else holds a stored value (replies
		// copy it out, under the object's lock, as this runs).
		if old, ok := d.Get(view(k)); ok && len(old) == len(v) {
			copy(old, v)
		} else {
			d.Set(entry(k, v))
		}
	case opDictSetDef:
		k, v := r.bytes(), r.bytes()
		if r.err != nil {
			return nil
		}
		if old, ok := d.Get(view(k)); ok {
			w.bytes(old)
			return nil
		}
		d.Set(entry(k, v))
		w.bytes(v)
	case opDictDelete:
		k := r.bytes()
		if r.err != nil {
			return nil // not the key "" that a failed read returns
		}
		_, ok := d.Delete(view(k))
		w.bool(ok)
	case opDictHas:
		_, ok := d.Get(view(r.bytes()))
		w.bool(ok)
	case opDictLen:
		w.uvarint(uint64(d.Len()))
	case opDictClear:
		obj.dict = new(btree.Map[string, []byte])
	case opDictPage:
		return s.dictPage(d, r, w)
	case opDictCAS:
		k, haveOld, old, nv := r.bytes(), r.bool(), r.bytes(), r.bytes()
		if r.err != nil {
			return nil
		}
		cur, ok := d.Get(view(k))
		swap := ok == haveOld && (!ok || bytes.Equal(cur, old))
		if swap {
			d.Set(entry(k, nv))
		}
		w.bool(swap)
	case opDictAdd, opDictUpdate:
		k := r.bytes()
		cur, ok := d.Get(view(k))
		nv, err := modify(o == opDictAdd, cur, ok, r)
		if err != nil || r.err != nil {
			return err
		}
		d.Set(string(k), nv)
		w.bytes(nv)
	case opDictSetMany:
		n := r.count()
		type kv struct{ k, v []byte }
		var items []kv // grown as items decode: not sized by a count that they may not bear out
		for i := 0; i < n && r.err == nil; i++ {
			items = append(items, kv{r.bytes(), r.bytes()})
		}
		if r.err != nil {
			return nil // all or nothing
		}
		for _, it := range items {
			d.Set(entry(it.k, it.v))
		}
	case opDictGetMany:
		n := r.count()
		w.uvarint(uint64(n))
		for range n {
			k := r.bytes()
			if r.err != nil {
				return nil
			}
			v, ok := d.Get(view(k))
			w.bool(ok)
			w.bytes(v)
			// Past the largest reply, stop now: the keys may repeat, and a
			// short request can name a reply of any size.
			if len(w.b) > s.maxMsg {
				return ErrTooLarge
			}
		}
	default:
		return badRequest{"not a dict operation"}
	}
	return nil
}

// Page flags.
const (
	pageFrom  = 1 << iota // from is set: start at the first key >= from
	pageTo                // to is set: stop before the first key >= to
	pageAfter             // after is set: start after that key (a later page)
)

func (s *store) dictPage(d *btree.Map[string, []byte], r *rbuf, w *wbuf) error {
	flags, from, to, after := r.byte(), r.bytes(), r.bytes(), r.bytes()
	limit := int(r.uvarint())
	if r.err != nil {
		return nil
	}
	pivot := ""
	if flags&pageFrom != 0 {
		pivot = string(from)
	}
	if flags&pageAfter != 0 && string(after) >= pivot {
		pivot = string(after)
	}
	countAt := len(w.b)
	w.b = append(w.b, 0, 0, 0, 0, 0) // count: a fixed 5-byte uvarint, patched below
	n, more, tooBig := 0, false, false
	d.Ascend(pivot, func(k string, v []byte) bool {
		if flags&pageAfter != 0 && k == string(after) {
			return true
		}
		if flags&pageTo != 0 && k >= string(to) {
			return false
		}
		// The item, and the more byte that ends the page.
		size := uvarintLen(len(k)) + len(k) + uvarintLen(len(v)) + len(v) + 1
		if n == limit || len(w.b)+size > s.pageBudget(n == 0) {
			more, tooBig = true, n == 0 && limit > 0
			return false
		}
		w.str(k)
		w.bytes(v)
		n++
		return true
	})
	if tooBig {
		return ErrTooLarge // one item alone is larger than a reply
	}
	putUvarint5(w.b[countAt:], uint64(n))
	w.bool(more)
	return nil
}

// putUvarint5 writes x as a uvarint of exactly five bytes (x < 2^35).
func putUvarint5(b []byte, x uint64) {
	for i := range 4 {
		b[i] = byte(x) | 0x80
		x >>= 7
	}
	b[4] = byte(x)
}

// modify reads an Add's delta or an Update's name and argument from r and
// returns the new value for cur.
func modify(add bool, cur []byte, ok bool, r *rbuf) ([]byte, error) {
	if add {
		delta, width := r.bytes(), r.byte()
		if r.err != nil {
			return nil, nil
		}
		return addNumbers(cur, ok, delta, width)
	}
	name, arg := string(r.bytes()), r.bytes()
	if r.err != nil {
		return nil, nil
	}
	fn := lookupUpdate(name)
	if fn == nil {
		return nil, &UpdateError{Name: name, Msg: ErrNotRegistered.Error()}
	}
	nv, err := guard(func() ([]byte, error) { return fn(cur, ok, arg) })
	if err != nil {
		return nil, &UpdateError{Name: name, Msg: err.Error()}
	}
	return nv, nil
}

// index resolves a Python index (negative counts from the end) into
// [0, n); ok is false when it is out of range.
func index(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	return int(i), i >= 0 && i < int64(n)
}

func (s *store) listOp(obj *object, o op, r *rbuf, w *wbuf) error {
	switch o {
	case opListAppend:
		v := r.bytes()
		if r.err == nil {
			obj.list = append(obj.list, clone(v))
		}
		w.uvarint(uint64(len(obj.list)))
	case opListExtend:
		n := r.count()
		var vs [][]byte // as SetMany's items
		for i := 0; i < n && r.err == nil; i++ {
			vs = append(vs, r.bytes())
		}
		if r.err == nil {
			for _, v := range vs {
				obj.list = append(obj.list, clone(v))
			}
		}
		w.uvarint(uint64(len(obj.list)))
	case opListInsert:
		i, v := r.varint(), r.bytes()
		if r.err != nil {
			return nil
		}
		// Python's insert clamps the index.
		n := int64(len(obj.list))
		if i < 0 {
			i = max(i+n, 0)
		}
		i = min(i, n)
		obj.list = append(obj.list, nil)
		copy(obj.list[i+1:], obj.list[i:])
		obj.list[i] = clone(v)
	case opListIndex, opListRemove:
		v := r.bytes()
		if r.err != nil {
			return nil // not the empty value that a failed read returns
		}
		for i, x := range obj.list {
			if bytes.Equal(x, v) {
				if o == opListRemove {
					obj.list = append(obj.list[:i], obj.list[i+1:]...)
				} else {
					w.uvarint(uint64(i))
				}
				return nil
			}
		}
		return ErrNotFound
	case opListPop:
		i, ok := index(r.varint(), len(obj.list))
		if r.err != nil {
			return nil // not the index 0 that a failed read returns
		}
		if !ok {
			return ErrIndex
		}
		w.bytes(obj.list[i])
		obj.list = append(obj.list[:i], obj.list[i+1:]...)
	case opListGet:
		i, ok := index(r.varint(), len(obj.list))
		if !ok {
			return ErrIndex
		}
		w.bytes(obj.list[i])
	case opListSet:
		ix, v := r.varint(), r.bytes()
		i, ok := index(ix, len(obj.list))
		if r.err != nil {
			return nil
		}
		if !ok {
			return ErrIndex
		}
		obj.list[i] = clone(v)
	case opListLen:
		w.uvarint(uint64(len(obj.list)))
	case opListSlice:
		start, stop, limit := r.varint(), r.varint(), int(r.uvarint())
		n := int64(len(obj.list))
		start, stop = clampSlice(start, n), clampSlice(stop, n)
		countAt := len(w.b)
		w.b = append(w.b, 0, 0, 0, 0, 0)
		c := 0
		for i := start; i < stop && c < limit; i++ {
			v := obj.list[i]
			if len(w.b)+uvarintLen(len(v))+len(v) > s.pageBudget(c == 0) {
				if c == 0 {
					return ErrTooLarge
				}
				break
			}
			w.bytes(v)
			c++
		}
		putUvarint5(w.b[countAt:], uint64(c))
	case opListAdd, opListUpdate:
		i, ok := index(r.varint(), len(obj.list))
		if r.err != nil {
			return nil
		}
		if !ok {
			return ErrIndex
		}
		nv, err := modify(o == opListAdd, obj.list[i], true, r)
		if err != nil || r.err != nil {
			return err
		}
		obj.list[i] = nv
		w.bytes(nv)
	case opListCAS:
		ix, old, nv := r.varint(), r.bytes(), r.bytes()
		i, ok := index(ix, len(obj.list))
		if r.err != nil {
			return nil
		}
		if !ok {
			return ErrIndex
		}
		swap := bytes.Equal(obj.list[i], old)
		if swap {
			obj.list[i] = clone(nv)
		}
		w.bool(swap)
	default:
		return badRequest{"not a list operation"}
	}
	return nil
}

// clampSlice resolves a Python slice bound into [0, n].
func clampSlice(i, n int64) int64 {
	if i < 0 {
		i = max(i+n, 0)
	}
	return min(i, n)
}
