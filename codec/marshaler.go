package codec

import (
	"encoding"
	"fmt"
	"reflect"
)

// Marshaler is the codec for types that encode themselves with the
// standard library's binary interfaces: *T implements
// encoding.BinaryUnmarshaler, and T or *T implements encoding.BinaryAppender
// (preferred: it appends in place) or encoding.BinaryMarshaler. time.Time
// and netip.Addr are such types. Default picks it for them. The zero
// Marshaler is ready to use; for a T without the methods, Append and Decode
// return an error.
//
// UnmarshalBinary is handed the bytes in shared memory: by that interface's
// contract it copies what it keeps. A panic in it is returned as an error
// matching ErrDecode.
type Marshaler[T any] struct{}

// isMarshaler reports whether T has what Marshaler needs.
func isMarshaler[T any]() bool {
	var v T
	if _, ok := any(&v).(encoding.BinaryUnmarshaler); !ok {
		return false
	}
	switch any(&v).(type) {
	case encoding.BinaryAppender, encoding.BinaryMarshaler:
		return true
	}
	return false
}

// Size returns -1: the size is known only once encoded.
func (Marshaler[T]) Size(*T) int { return -1 }

// Append appends the encoding of *v to dst, with AppendBinary when T has
// it and MarshalBinary otherwise.
func (Marshaler[T]) Append(dst []byte, v *T) ([]byte, error) {
	switch m := any(v).(type) {
	case encoding.BinaryAppender:
		out, err := m.AppendBinary(dst)
		if err != nil {
			return dst, fmt.Errorf("codec: marshaler: %w", err)
		}
		return out, nil
	case encoding.BinaryMarshaler:
		b, err := m.MarshalBinary()
		if err != nil {
			return dst, fmt.Errorf("codec: marshaler: %w", err)
		}
		return append(dst, b...), nil
	}
	return dst, fmt.Errorf("codec: marshaler: %v implements neither encoding.BinaryAppender nor encoding.BinaryMarshaler", reflect.TypeFor[T]())
}

// Decode sets *v with UnmarshalBinary, into a fresh T.
func (Marshaler[T]) Decode(src []byte, v *T) (err error) {
	var x T
	u, ok := any(&x).(encoding.BinaryUnmarshaler)
	if !ok {
		return fmt.Errorf("%w: marshaler: *%v does not implement encoding.BinaryUnmarshaler", ErrDecode, reflect.TypeFor[T]())
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: marshaler: panic: %v", ErrDecode, r)
		}
	}()
	if err := u.UnmarshalBinary(src); err != nil {
		return fmt.Errorf("%w: marshaler: %v", ErrDecode, err)
	}
	*v = x
	return nil
}

// CodecName returns "marshaler".
func (Marshaler[T]) CodecName() string { return "marshaler" }
