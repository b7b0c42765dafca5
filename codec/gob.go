package codec

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"io"
	"reflect"
	"sync"
)

// Gob is the codec for any value that encoding/gob can carry. Every message
// is a self-contained gob stream (type description first), so that any
// consumer can decode any message, whoever produced it. Interface values
// need their concrete types gob.Register-ed in every process, as with gob
// itself. The zero Gob is ready to use.
//
// A fresh gob encoder and decoder per message would spend most of their
// time describing and compiling the type (about 25 µs and 180 allocations
// for a small struct). For types without interfaces inside, the type
// description is the same for every message of a process, so Gob keeps
// warm encoders, and warm decoders keyed by the description they were fed:
// a message is the cached description plus the value, and a warm decoder
// reads the value alone. Messages whose description differs (another
// process's type ids) get decoders of their own; anything that fails goes
// the slow way, with a fresh decoder, and the warm one is dropped.
//
// A nil pointer arrives as nil. gob itself cannot carry a nil pointer at top
// level, so when T is a pointer type every message starts with one byte: 0
// for nil (and nothing follows), 1 before the gob stream of the value. This
// is what makes Python's None poison pill work: a nil *Task sent is a nil
// *Task received, never a pointer to a zero Task.
type Gob[T any] struct{}

// gobCache is the per-type state behind Gob[T].
type gobCache struct {
	ptr    bool      // T is a pointer: messages start with a nil flag
	ok     bool      // the type has no interface inside: caching is sound
	prefix []byte    // this process's type description, as a fresh encoder writes it
	encs   sync.Pool // *warmEncoder
	decs   sync.Map  // string(prefix) -> *descPool
}

var gobCaches sync.Map // reflect.Type -> *gobCache

type warmEncoder struct {
	w   sliceWriter
	enc *gob.Encoder
}

// descPool holds the warm decoders of one type description.
type descPool struct {
	pool sync.Pool // *warmDecoder
	walk bool      // messages of this description are walked first (see checkGob)
}

type warmDecoder struct {
	r   sliceReader
	dec *gob.Decoder
}

// sliceWriter appends to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// sliceReader reads b and is an io.ByteReader, so that gob reads exactly
// one message and never ahead.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (r *sliceReader) ReadByte() (byte, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func cacheFor[T any]() *gobCache {
	t := reflect.TypeFor[T]()
	if c, ok := gobCaches.Load(t); ok {
		return c.(*gobCache)
	}
	c := &gobCache{ptr: t.Kind() == reflect.Pointer, ok: !hasInterface(t, map[reflect.Type]bool{})}
	if c.ok {
		// The description is what a fresh encoder writes before the value:
		// encode a zero T twice with one encoder; the second time is the
		// value alone.
		zero := sample[T]()
		var w sliceWriter
		enc := gob.NewEncoder(&w)
		if enc.Encode(&zero) == nil {
			first := len(w.b)
			if enc.Encode(&zero) == nil && first <= len(w.b) && bytes.HasSuffix(w.b[:first], w.b[first:]) {
				c.prefix = append([]byte(nil), w.b[:first-(len(w.b)-first)]...)
			} else {
				c.ok = false
			}
		} else {
			c.ok = false
		}
	}
	got, _ := gobCaches.LoadOrStore(t, c)
	return got.(*gobCache)
}

// sample returns a zero T to describe the type with: for a pointer type,
// a pointer to a zero value, since gob does not encode a nil pointer.
func sample[T any]() T {
	var zero T
	if t := reflect.TypeFor[T](); t.Kind() == reflect.Pointer {
		reflect.ValueOf(&zero).Elem().Set(reflect.New(t.Elem()))
	}
	return zero
}

// hasInterface reports whether a value of t may hold an interface, whose
// concrete types gob describes as it meets them, mid-stream.
func hasInterface(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return hasInterface(t.Elem(), seen)
	case reflect.Map:
		return hasInterface(t.Key(), seen) || hasInterface(t.Elem(), seen)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if hasInterface(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	// A type with its own GobEncoder writes what it likes; it is opaque
	// bytes to gob, which is fine.
	return false
}

// Size returns -1: a gob encoding's size is known only once made.
func (Gob[T]) Size(*T) int { return -1 }

// Flag bytes that start a message when T is a pointer.
const (
	gobNil   = 0 // *v is nil; nothing follows
	gobValue = 1 // a gob stream of **v follows
)

// Append appends the gob encoding of *v to dst: a complete gob stream, after
// a nil flag when T is a pointer.
func (Gob[T]) Append(dst []byte, v *T) ([]byte, error) {
	c := cacheFor[T]()
	if c.ptr {
		if reflect.ValueOf(v).Elem().IsNil() {
			return append(dst, gobNil), nil
		}
		out, err := appendGob(c, append(dst, gobValue), v)
		if err != nil {
			return dst, err
		}
		return out, nil
	}
	return appendGob(c, dst, v)
}

func appendGob[T any](c *gobCache, dst []byte, v *T) ([]byte, error) {
	if !c.ok {
		w := sliceWriter{dst}
		if err := gob.NewEncoder(&w).Encode(v); err != nil {
			return dst, fmt.Errorf("codec: gob: %w", err)
		}
		return w.b, nil
	}
	e, _ := c.encs.Get().(*warmEncoder)
	if e == nil {
		e = new(warmEncoder)
		e.enc = gob.NewEncoder(&e.w)
		zero := sample[T]()
		if err := e.enc.Encode(&zero); err != nil { // sends the description, to nobody
			return dst, fmt.Errorf("codec: gob: %w", err)
		}
	}
	e.w.b = append(dst, c.prefix...)
	err := e.enc.Encode(v)
	out := e.w.b
	e.w.b = nil
	if err != nil {
		return dst, fmt.Errorf("codec: gob: %w", err) // e is dropped: its state is unknown
	}
	c.encs.Put(e)
	return out, nil
}

// Decode sets *v from the gob stream in src. It decodes into a fresh T, so
// that fields absent from the stream are zero, as for a new value.
func (Gob[T]) Decode(src []byte, v *T) (err error) {
	defer func() {
		// encoding/gob recovers its own errors; this guards the rest
		// (a user's GobDecode method, for one) against garbage.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: gob: panic: %v", ErrDecode, r)
		}
	}()
	c := cacheFor[T]()
	if c.ptr {
		switch {
		case len(src) == 1 && src[0] == gobNil:
			var zero T
			*v = zero
			return nil
		case len(src) > 1 && src[0] == gobValue:
			src = src[1:]
		default:
			return fmt.Errorf("%w: gob: bad nil flag for a pointer (%d bytes)", ErrDecode, len(src))
		}
	}
	if c.ok && len(src) > len(c.prefix) {
		if ok, err := c.decodeWarm(src, v); ok {
			return err
		}
	}
	if c.ok {
		// Before gob sees it: see checkGob. A copy, walked and decoded
		// both, as in decodeWarm.
		src = bytes.Clone(src)
		if _, err := checkGob(src); err != nil {
			return fmt.Errorf("%w: gob: %v", ErrDecode, err)
		}
		if testHookWalked != nil {
			testHookWalked()
		}
	}
	var x T
	r := sliceReader{src}
	if err := gob.NewDecoder(&r).Decode(&x); err != nil {
		return fmt.Errorf("%w: gob: %v", ErrDecode, err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: gob: %d bytes after the value", ErrDecode, len(r.b))
	}
	*v = x
	return nil
}

// maxDescriptions bounds the warm decoder pools per type: one per distinct
// type description met (one per producing process, typically).
const maxDescriptions = 64

// maxDescriptionBytes bounds a description that gets a pool: a type's
// description is its fields' names and type ids, a few hundred bytes, and
// each pool keeps its description for good.
const maxDescriptionBytes = 64 << 10

// decodeWarm decodes src with a warm decoder if src starts with a type
// description one has been fed; ok is false when it could not try, or when
// the warm decoder failed (the caller then decodes the slow way). A
// description gets its pool once a message with it has decoded: garbage
// from a buggy or hostile peer kept a pool, and its description (a
// message's worth of bytes), for good, and 64 of them took every place.
// A message is walked first (checkGob) unless its description is known
// and says that its values need no walk.
func (c *gobCache) decodeWarm(src []byte, v any) (ok bool, err error) {
	desc, rest, found := c.splitDescription(src)
	if !found {
		return false, nil
	}
	var dp *descPool
	var d *warmDecoder
	key := string(desc) // a copy: desc may change under it
	if pv, loaded := c.decs.Load(key); loaded {
		dp = pv.(*descPool)
		d, _ = dp.pool.Get().(*warmDecoder)
		if testHookDescFound != nil {
			testHookDescFound()
		}
	} else if len(desc) > maxDescriptionBytes {
		return false, nil
	}
	var walked *gobWalk
	if dp == nil || dp.walk {
		// src may be shared memory that a hostile or buggy peer still
		// writes: the walk and the decode read one private copy. gob read
		// src again after the walk, and a map count changed in between
		// reached it unchecked (TestGobMessageChangedAfterWalk).
		src = bytes.Clone(src)
		desc, rest = src[:len(desc)], src[len(desc):]
		if dp != nil && string(desc) != key {
			// Changed since it chose d: the walk would check the copy
			// against a description d was never fed, and d would read
			// what the walk did not check
			// (TestGobDescriptionChangedBeforeCopy). The slow way walks
			// and decodes a copy of its own.
			if d != nil {
				dp.pool.Put(d) // not fed anything
			}
			return false, nil
		}
		w, err := checkGob(src)
		if err != nil {
			if d != nil {
				dp.pool.Put(d) // not fed anything
			}
			return true, fmt.Errorf("%w: gob: %v", ErrDecode, err)
		}
		walked = w
		if testHookWalked != nil {
			testHookWalked()
		}
	}
	body := rest
	if d == nil {
		d = new(warmDecoder)
		d.dec = gob.NewDecoder(&d.r)
		body = src // a new decoder reads the description first
	}
	d.r.b = body
	x := reflect.New(reflect.TypeOf(v).Elem())
	if err := d.dec.DecodeValue(x); err != nil || len(d.r.b) != 0 {
		return false, nil // d is dropped; the slow way says what is wrong
	}
	d.r.b = nil
	if dp == nil {
		n := 0
		c.decs.Range(func(any, any) bool { n++; return n < maxDescriptions })
		if n < maxDescriptions {
			pv, _ := c.decs.LoadOrStore(string(desc), &descPool{walk: walked.needsWalk()})
			dp = pv.(*descPool)
		}
	}
	if dp != nil {
		dp.pool.Put(d)
	}
	reflect.ValueOf(v).Elem().Set(x.Elem())
	return true, nil
}

// splitDescription splits a gob stream into its leading type definitions
// (messages with a negative type id; none for a predeclared type such as
// string) and the rest. found is false if the stream does not parse that
// far.
func (c *gobCache) splitDescription(src []byte) (desc, rest []byte, found bool) {
	p := 0
	for p < len(src) {
		n, w := gobUint(src[p:])
		if w == 0 || n > uint64(len(src)-p-w) {
			return nil, nil, false
		}
		body := src[p+w : p+w+int(n)]
		id, iw := gobUint(body)
		if iw == 0 {
			return nil, nil, false
		}
		if id&1 == 0 { // gob ints: sign in bit 0; a non-negative id is a value
			return src[:p], src[p:], true
		}
		p += w + int(n)
	}
	return nil, nil, false
}

// gobUint decodes gob's unsigned integer: one byte below 128, else a byte
// holding minus the count of big-endian bytes that follow. w is 0 on
// garbage.
func gobUint(b []byte) (v uint64, w int) {
	if len(b) == 0 {
		return 0, 0
	}
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	n := -int(int8(b[0]))
	if n > 8 || n+1 > len(b) {
		return 0, 0
	}
	for _, c := range b[1 : n+1] {
		v = v<<8 | uint64(c)
	}
	return v, n + 1
}

// testHookWalked, nil but in tests, runs once Decode has walked a
// message and before gob decodes it.
var testHookWalked func()

// testHookDescFound, nil but in tests, runs once Decode has found the
// warm decoders of a message's description, before it copies the message.
var testHookDescFound func()
