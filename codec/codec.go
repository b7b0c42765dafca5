package codec

import (
	"errors"
	"fmt"
	"reflect"
	"sync"

	"github.com/shmkit/shmkit/internal/memcopy"
	"github.com/shmkit/shmkit/internal/pod"
)

// Codec encodes values of type T into bytes and decodes them back. A Codec
// must be safe for concurrent use; the shipped ones hold no state.
type Codec[T any] interface {
	// Size returns the exact number of bytes Append will add for *v, or -1
	// when it is not known before encoding. When it is known, a queue
	// reserves that many bytes in the ring and Append writes them in place.
	Size(v *T) int
	// Append appends the encoding of *v to dst and returns the extended
	// slice. When cap(dst)-len(dst) >= Size(v) it must not reallocate.
	Append(dst []byte, v *T) ([]byte, error)
	// Decode sets *v from src. src may be shared memory that changes once
	// Decode returns: Decode must copy what it keeps. Garbage in src gives
	// an error matching ErrDecode, never a panic.
	Decode(src []byte, v *T) error
}

// ErrDecode is matched (errors.Is) by every decoding error of the shipped
// codecs.
var ErrDecode = errors.New("codec: cannot decode")

// Default returns the codec a queue or pipe of T uses when given none, the
// first that fits T of:
//
//   - Bytes for []byte and String for string;
//   - Marshaler when T encodes itself (encoding.BinaryAppender or
//     BinaryMarshaler, with BinaryUnmarshaler), as time.Time does;
//   - Binary when T is fixed-size and pointer-free;
//   - Gob otherwise.
func Default[T any]() Codec[T] {
	if c, ok := any(Bytes{}).(Codec[T]); ok {
		return c
	}
	if c, ok := any(String{}).(Codec[T]); ok {
		return c
	}
	if isMarshaler[T]() {
		return Marshaler[T]{}
	}
	if b, err := NewBinary[T](); err == nil {
		return b
	}
	return Gob[T]{}
}

// OrDefault returns c, or Default[T]() when c is nil: the codec of an
// Options whose Codec field was left unset (queue, pipe).
func OrDefault[T any](c Codec[T]) Codec[T] {
	if c != nil {
		return c
	}
	return Default[T]()
}

// Namer is implemented by a codec that names itself. Name returns what
// CodecName returns; a codec without it is named by its Go type, which
// changes when the type is renamed or moved. A queue or pipe records the
// name in its handle, and a worker that decodes the handle finds the codec
// by that name (ByName, after Register): give a codec of your own a short,
// stable name.
type Namer interface {
	CodecName() string
}

// Name returns a short name for c ("binary", "gob", "bytes", "string",
// "marshaler", what a Namer says, or else the Go type of c). Queues record
// it to catch two processes using different codecs on one queue.
func Name[T any](c Codec[T]) string {
	switch c.(type) {
	case *Binary[T]:
		return "binary"
	case Gob[T]:
		return "gob"
	}
	if n, ok := c.(Namer); ok {
		return n.CodecName()
	}
	return reflect.TypeOf(c).String()
}

// Bytes is the codec for []byte messages, carried as they are. Decode
// copies into the slice already in *v when it has room, so a consumer that
// reuses its variable does not allocate.
type Bytes struct{}

// Size returns len(*v).
func (Bytes) Size(v *[]byte) int { return len(*v) }

// Append appends *v to dst.
func (Bytes) Append(dst []byte, v *[]byte) ([]byte, error) { return append(dst, *v...), nil }

// Decode copies src into *v.
func (Bytes) Decode(src []byte, v *[]byte) error {
	*v = memcopy.AppendOut((*v)[:0], src)
	return nil
}

// AppendShared is c.Append(dst, v) for a dst in shared memory (a ring
// slot, an arena block) that another process reads next: the []byte of
// Bytes is copied by memcopy, which takes the way that costs that reader
// less. (Bytes.Append copies as Go does: it also fills private buffers,
// which memcopy's timing would mislead.)
func AppendShared[T any](c Codec[T], dst []byte, v *T) ([]byte, error) {
	if _, ok := any(c).(Bytes); ok {
		return memcopy.Append(dst, *any(v).(*[]byte)), nil
	}
	return c.Append(dst, v)
}

// String is the codec for string messages, carried as their bytes.
type String struct{}

// Size returns len(*v).
func (String) Size(v *string) int { return len(*v) }

// Append appends *v to dst.
func (String) Append(dst []byte, v *string) ([]byte, error) { return append(dst, *v...), nil }

// Decode sets *v to a copy of src.
func (String) Decode(src []byte, v *string) error {
	*v = string(src)
	return nil
}

// checkPod is pod.Check for T, kept here so that binary.go stays the one
// file that uses unsafe.
func checkPod(t reflect.Type) error { return pod.Check(t) }

// CodecName returns "bytes".
func (Bytes) CodecName() string { return "bytes" }

// CodecName returns "string".
func (String) CodecName() string { return "string" }

var (
	registryMu sync.Mutex
	registry   = map[string]any{}
)

// Register makes c findable by ByName under Name(c), in this process. A
// queue or pipe that travels to a worker process names its codec; a user
// codec must be registered in the worker (at init, beside the worker's
// process.Register) for the worker to decode the handle.
func Register[T any](c Codec[T]) {
	registryMu.Lock()
	registry[Name(c)] = c
	registryMu.Unlock()
}

// ErrUnknownCodec is returned by ByName for a name that is neither a
// shipped codec for T nor a registered one.
var ErrUnknownCodec = errors.New("codec: unknown codec")

// ByName returns the codec for T called name: "binary", "gob", "bytes",
// "string", "marshaler", or one given to Register.
func ByName[T any](name string) (Codec[T], error) {
	var c any
	switch name {
	case "binary":
		b, err := NewBinary[T]()
		if err != nil {
			return nil, err
		}
		return b, nil
	case "gob":
		return Gob[T]{}, nil
	case "marshaler":
		if !isMarshaler[T]() {
			return nil, fmt.Errorf("%w %q for %v: it does not implement encoding.BinaryUnmarshaler and BinaryAppender or BinaryMarshaler", ErrUnknownCodec, name, reflect.TypeFor[T]())
		}
		return Marshaler[T]{}, nil
	case "bytes":
		c = Bytes{}
	case "string":
		c = String{}
	default:
		registryMu.Lock()
		c = registry[name]
		registryMu.Unlock()
	}
	if t, ok := c.(Codec[T]); ok {
		return t, nil
	}
	return nil, fmt.Errorf("%w %q for %v (codec.Register it in this process)", ErrUnknownCodec, name, reflect.TypeFor[T]())
}
