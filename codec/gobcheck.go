package codec

import (
	"errors"
	"fmt"
)

// encoding/gob trusts two things in a stream that a peer controls, and a
// message of a few bytes costs the decoding process more than the machine
// has:
//
//   - A map's count: gob makes the map that size (reflect.MakeMapWithSize)
//     before it reads an entry. A 25-byte message whose count said 2^28
//     made it allocate 9 GiB before it failed at the end of its input.
//     (Slices, strings and arrays are safe: gob grows those as their
//     elements arrive, or checks the length against the input.)
//   - Nesting: gob decodes a value of a recursive type, or skips one of a
//     recursive wire type that the local type lacks, by recursion, a few
//     hundred bytes of stack a level. A 4 MiB message nesting one 4 Mi
//     levels deep passed the goroutine's 1 GB stack limit: a fatal error,
//     which no recover catches, and the process died.
//
// So Gob checks a message before gob sees it: checkGob walks the stream as
// gob's decoder reads it, without building values, and refuses a map whose
// count its bytes cannot hold (every key and every element is at least a
// byte) and nesting deeper than gobMaxDepth. A description whose types
// hold no map, no interface and no cycle needs no walk: its values nest no
// deeper than its definitions, and the warm decoders remember that per
// description (descPool.walk). A message walked is copied first, and gob
// decodes the copy: src may be shared memory that a peer still writes,
// and what gob reads must be what the walk checked.
//
// The walk follows gob's own reading of the wire format (encoding/gob's
// decode.go and decoder.go): messages (a length, then a type id), type
// definitions (a negative id and a wireType), and values by the
// definitions. It is run only for types without interfaces (gobCache.ok):
// gob then decodes an interface on the wire only to ignore it, which the
// walk reads as gob's ignoreInterface does; a type with interfaces inside
// decodes some of them, with the concrete types registered, and the walk
// could not tell which from the wire alone.

// Gob's predeclared type ids (encoding/gob's type.go) and its first user
// id; the wire type machinery between them never types a value.
const (
	idBool      = 1
	idInt       = 2
	idUint      = 3
	idFloat     = 4
	idBytes     = 5
	idString    = 6
	idComplex   = 7
	idInterface = 8
	idFirstUser = 64
)

// gobMaxDepth bounds the nesting the walk follows: a hostile stream of
// nested struct fields costs a stack frame a byte.
const gobMaxDepth = 1 << 16

// Kinds of a wire type.
const (
	wireArray = iota + 1
	wireSlice
	wireStruct
	wireMap
	wireOpaque // GobEncoder, BinaryMarshaler, TextMarshaler: bytes
)

// wireDef is a type definition as the walk keeps it.
type wireDef struct {
	kind      int
	elem, key int64   // array, slice, map
	length    int64   // array
	fields    []int64 // struct: the field types, in field number order
}

var errGobWalk = errors.New("malformed stream")

// gobWalk is the state of one walk: the stream left after the current
// message, the current message left, and the definitions met.
type gobWalk struct {
	rest, msg []byte
	defs      map[int64]*wireDef
	depth     int
}

// checkGob walks the gob stream src (one value) and returns an error for
// a map count larger than its message can hold, nesting deeper than
// gobMaxDepth, or a stream it cannot read as gob would.
func checkGob(src []byte) (*gobWalk, error) {
	w := &gobWalk{rest: src, defs: map[int64]*wireDef{}}
	id, err := w.typeSequence(false)
	if err == nil {
		err = w.top(id)
	}
	return w, err
}

// needsWalk reports whether values of the types w met may hold a map, an
// interface (which may define types of its own) or a type that holds
// itself (a cycle, which nests without bound): messages of the same
// description need a walk each time.
func (w *gobWalk) needsWalk() bool {
	if len(w.defs) > 1<<12 {
		return true // not worth the look (and the look recurses)
	}
	state := map[int64]int{} // 1: being visited, 2: visited, no need found
	var visit func(id int64) bool
	visit = func(id int64) bool {
		if id == idInterface {
			return true
		}
		if id >= idBool && id <= idComplex {
			return false
		}
		d := w.defs[id]
		if d == nil || d.kind == wireMap || state[id] == 1 {
			return true
		}
		if state[id] == 2 {
			return false
		}
		state[id] = 1
		refs := d.fields
		if d.kind == wireArray || d.kind == wireSlice {
			refs = []int64{d.elem}
		}
		for _, r := range refs {
			if visit(r) {
				return true
			}
		}
		state[id] = 2
		return false
	}
	for id := range w.defs {
		if visit(id) {
			return true
		}
	}
	return false
}

// top walks a top-level value of type id in the current message: a struct
// by its fields, anything else as a singleton (a zero delta first).
func (w *gobWalk) top(id int64) error {
	if d := w.defs[id]; d != nil && d.kind == wireStruct {
		return w.value(id)
	}
	if delta, err := w.uint(); err != nil || delta != 0 {
		return fmt.Errorf("%w: singleton delta", errGobWalk)
	}
	return w.value(id)
}

// message makes the next message of the stream the current one, as gob's
// recvMessage does.
func (w *gobWalk) message() error {
	n, k := gobUint(w.rest)
	if k == 0 || n > uint64(len(w.rest)-k) {
		return fmt.Errorf("%w: message length", errGobWalk)
	}
	w.msg, w.rest = w.rest[k:k+int(n)], w.rest[k+int(n):]
	return nil
}

// typeSequence reads type definitions up to a value's type id, as gob's
// decodeTypeSequence does (inside an interface, a count may follow a
// definition).
func (w *gobWalk) typeSequence(inInterface bool) (int64, error) {
	for {
		if len(w.msg) == 0 {
			if err := w.message(); err != nil {
				return 0, err
			}
		}
		id, err := w.int()
		if err != nil {
			return 0, err
		}
		if id >= 0 {
			return id, nil
		}
		if err := w.define(-id); err != nil {
			return 0, err
		}
		if len(w.msg) > 0 {
			if !inInterface {
				return 0, fmt.Errorf("%w: data after a type definition", errGobWalk)
			}
			if _, err := w.uint(); err != nil {
				return 0, err
			}
		}
	}
}

// define reads the wireType of type id: a struct whose fields 0 to 6 are
// ArrayT, SliceT, StructT, MapT, GobEncoderT, BinaryMarshalerT and
// TextMarshalerT, of which gob's encoder sets one.
func (w *gobWalk) define(id int64) error {
	if id < idFirstUser || w.defs[id] != nil {
		return fmt.Errorf("%w: type id %d defined again", errGobWalk, id)
	}
	d := &wireDef{}
	err := w.fields(7, func(f int) error {
		if d.kind != 0 {
			return fmt.Errorf("%w: a type of two kinds", errGobWalk)
		}
		switch f {
		case 0:
			d.kind = wireArray
			return w.fields(3, func(f int) error { // CommonType, Elem, Len
				switch f {
				case 0:
					return w.common()
				case 1:
					return w.intInto(&d.elem)
				}
				return w.intInto(&d.length)
			})
		case 1:
			d.kind = wireSlice
			return w.fields(2, func(f int) error { // CommonType, Elem
				if f == 0 {
					return w.common()
				}
				return w.intInto(&d.elem)
			})
		case 2:
			d.kind = wireStruct
			return w.fields(2, func(f int) error { // CommonType, Field
				if f == 0 {
					return w.common()
				}
				n, err := w.count(1)
				if err != nil {
					return err
				}
				d.fields = make([]int64, n)
				for i := range d.fields {
					err := w.fields(2, func(f int) error { // Name, Id
						if f == 0 {
							return w.skipBytes()
						}
						return w.intInto(&d.fields[i])
					})
					if err != nil {
						return err
					}
				}
				return nil
			})
		case 3:
			d.kind = wireMap
			return w.fields(3, func(f int) error { // CommonType, Key, Elem
				switch f {
				case 0:
					return w.common()
				case 1:
					return w.intInto(&d.key)
				}
				return w.intInto(&d.elem)
			})
		}
		d.kind = wireOpaque
		return w.fields(1, func(int) error { return w.common() })
	})
	if err != nil {
		return err
	}
	if d.kind == 0 {
		return fmt.Errorf("%w: type %d of no kind", errGobWalk, id)
	}
	w.defs[id] = d
	return nil
}

// common reads a CommonType: Name, Id.
func (w *gobWalk) common() error {
	return w.fields(2, func(f int) error {
		if f == 0 {
			return w.skipBytes()
		}
		_, err := w.int()
		return err
	})
}

// fields reads a struct of n fields, calling f for each field sent: deltas
// up to a zero or the end of the message, as gob's decodeStruct.
func (w *gobWalk) fields(n int, f func(field int) error) error {
	field := -1
	for len(w.msg) > 0 {
		delta, err := w.uint()
		if err != nil {
			return err
		}
		if delta == 0 {
			return nil
		}
		if delta > uint64(n-1-field) {
			return fmt.Errorf("%w: field number out of range", errGobWalk)
		}
		field += int(delta)
		if err := f(field); err != nil {
			return err
		}
	}
	return nil
}

// value walks a value of type id.
func (w *gobWalk) value(id int64) error {
	switch id {
	case idBool, idInt, idUint, idFloat:
		_, err := w.uint()
		return err
	case idComplex:
		if _, err := w.uint(); err != nil {
			return err
		}
		_, err := w.uint()
		return err
	case idBytes, idString:
		return w.skipBytes()
	case idInterface:
		return w.iface()
	}
	d := w.defs[id]
	if d == nil {
		return fmt.Errorf("%w: type id %d not defined", errGobWalk, id)
	}
	if w.depth >= gobMaxDepth {
		return fmt.Errorf("%w: nested more than %d deep", errGobWalk, gobMaxDepth)
	}
	w.depth++
	err := w.defined(d)
	w.depth--
	return err
}

// defined walks a value of the defined type d.
func (w *gobWalk) defined(d *wireDef) error {
	switch d.kind {
	case wireOpaque:
		return w.skipBytes()
	case wireStruct:
		return w.fields(len(d.fields), func(f int) error { return w.value(d.fields[f]) })
	case wireArray, wireSlice:
		n, err := w.count(1)
		if err != nil {
			return err
		}
		for range n {
			if err := w.value(d.elem); err != nil {
				return err
			}
		}
		return nil
	}
	// The check: every key and element is at least a byte.
	n, err := w.count(2)
	if err != nil {
		return err
	}
	for range n {
		if err := w.value(d.key); err != nil {
			return err
		}
		if err := w.value(d.elem); err != nil {
			return err
		}
	}
	return nil
}

// iface walks an interface value as gob's ignoreInterface reads it: the
// concrete type's name, its type sequence, and its value, delimited.
func (w *gobWalk) iface() error {
	if err := w.skipBytes(); err != nil {
		return err
	}
	if _, err := w.typeSequence(true); err != nil {
		return err
	}
	return w.skipBytes()
}

// count reads a count of things of at least size bytes each, which the
// message must hold.
func (w *gobWalk) count(size int) (int, error) {
	n, err := w.uint()
	if err != nil {
		return 0, err
	}
	if n > uint64(len(w.msg)/size) {
		return 0, fmt.Errorf("%w: %d entries of at least %d bytes in %d bytes", errGobWalk, n, size, len(w.msg))
	}
	return int(n), nil
}

func (w *gobWalk) uint() (uint64, error) {
	v, k := gobUint(w.msg)
	if k == 0 {
		return 0, fmt.Errorf("%w: integer", errGobWalk)
	}
	w.msg = w.msg[k:]
	return v, nil
}

// int reads gob's signed integer: the sign in bit 0.
func (w *gobWalk) int() (int64, error) {
	u, err := w.uint()
	if u&1 != 0 {
		return ^int64(u >> 1), err
	}
	return int64(u >> 1), err
}

func (w *gobWalk) intInto(p *int64) (err error) {
	*p, err = w.int()
	return err
}

// skipBytes skips a length and that many bytes.
func (w *gobWalk) skipBytes() error {
	n, err := w.uint()
	if err != nil {
		return err
	}
	if n > uint64(len(w.msg)) {
		return fmt.Errorf("%w: %d bytes in %d", errGobWalk, n, len(w.msg))
	}
	w.msg = w.msg[n:]
	return nil
}
