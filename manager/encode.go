package manager

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"

	"github.com/shmkit/shmkit/codec"
)

// Keys travel in an order-preserving encoding, so that the server, which
// knows no Go type, keeps a Dict's keys in their order by comparing bytes:
// integers as 8 big-endian bytes (the sign bit flipped for signed ones),
// floats as their IEEE bits made sortable, strings as their bytes.

// keyKind says how a key type encodes.
type keyKind uint8

const (
	keyInt keyKind = iota
	keyUint
	keyFloat
	keyString
)

func kindOfKey[K cmp.Ordered]() keyKind {
	switch reflect.TypeFor[K]().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return keyInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return keyUint
	case reflect.Float32, reflect.Float64:
		return keyFloat
	default:
		return keyString
	}
}

// appendKey appends k's order-preserving encoding to dst.
func appendKey[K cmp.Ordered](dst []byte, kind keyKind, k K) []byte {
	v := reflect.ValueOf(k)
	switch kind {
	case keyInt:
		return binary.BigEndian.AppendUint64(dst, uint64(v.Int())^(1<<63))
	case keyUint:
		return binary.BigEndian.AppendUint64(dst, v.Uint())
	case keyFloat:
		bits := math.Float64bits(v.Float())
		if bits>>63 != 0 {
			bits = ^bits
		} else {
			bits ^= 1 << 63
		}
		return binary.BigEndian.AppendUint64(dst, bits)
	default:
		return append(dst, v.String()...)
	}
}

// decodeKey is appendKey's inverse.
func decodeKey[K cmp.Ordered](kind keyKind, b []byte) (K, error) {
	var k K
	v := reflect.ValueOf(&k).Elem()
	if kind != keyString && len(b) != 8 {
		return k, fmt.Errorf("%w: key of %d bytes", ErrBadReply, len(b))
	}
	switch kind {
	case keyInt:
		v.SetInt(int64(binary.BigEndian.Uint64(b) ^ (1 << 63)))
	case keyUint:
		v.SetUint(binary.BigEndian.Uint64(b))
	case keyFloat:
		bits := binary.BigEndian.Uint64(b)
		if bits>>63 != 0 {
			bits ^= 1 << 63
		} else {
			bits = ^bits
		}
		v.SetFloat(math.Float64frombits(bits))
	default:
		v.SetString(string(b))
	}
	return k, nil
}

// Values travel as a tag byte and a body. Numbers, whatever their Go type,
// travel as 8 bytes the server can add to (tagInt, tagUint, tagFloat);
// anything else through its codec (codec.Default: bytes, strings,
// marshalers, fixed-size binary, gob), tagCodec.
const (
	tagInt   = 'i'
	tagUint  = 'u'
	tagFloat = 'f'
	tagCodec = 'c'
)

// valueCodec encodes the values of one Go type V.
type valueCodec[V any] struct {
	tag byte // tagInt, tagUint, tagFloat or tagCodec
	c   codec.Codec[V]
}

func newValueCodec[V any]() valueCodec[V] {
	switch reflect.TypeFor[V]().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return valueCodec[V]{tag: tagInt}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return valueCodec[V]{tag: tagUint}
	case reflect.Float32, reflect.Float64:
		return valueCodec[V]{tag: tagFloat}
	}
	return valueCodec[V]{tag: tagCodec, c: codec.Default[V]()}
}

// numeric reports whether V is a number the server can add to.
func (vc valueCodec[V]) numeric() bool { return vc.tag != tagCodec }

// appendValue appends v's tagged encoding to dst.
func (vc valueCodec[V]) appendValue(dst []byte, v *V) ([]byte, error) {
	dst = append(dst, vc.tag)
	switch vc.tag {
	case tagInt:
		return binary.LittleEndian.AppendUint64(dst, uint64(reflect.ValueOf(v).Elem().Int())), nil
	case tagUint:
		return binary.LittleEndian.AppendUint64(dst, reflect.ValueOf(v).Elem().Uint()), nil
	case tagFloat:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(reflect.ValueOf(v).Elem().Float())), nil
	}
	return vc.c.Append(dst, v)
}

// decodeValue is appendValue's inverse.
func (vc valueCodec[V]) decodeValue(b []byte, v *V) error {
	if len(b) == 0 || b[0] != vc.tag {
		return fmt.Errorf("%w: the value was stored as another type", ErrType)
	}
	b = b[1:]
	if vc.tag == tagCodec {
		return vc.c.Decode(b, v)
	}
	if len(b) != 8 {
		return fmt.Errorf("%w: number of %d bytes", ErrBadReply, len(b))
	}
	x := binary.LittleEndian.Uint64(b)
	rv := reflect.ValueOf(v).Elem()
	switch vc.tag {
	case tagInt:
		rv.SetInt(int64(x))
	case tagUint:
		rv.SetUint(x)
	default:
		rv.SetFloat(math.Float64frombits(x))
	}
	return nil
}

// addNumbers adds the tagged number delta to the tagged number old (absent:
// zero) and returns the tagged sum; it runs in the server.
func addNumbers(old []byte, have bool, delta []byte) ([]byte, error) {
	if len(delta) != 9 || delta[0] == tagCodec {
		return nil, ErrNotNumber
	}
	if !have {
		return append([]byte(nil), delta...), nil
	}
	if len(old) != 9 || old[0] != delta[0] {
		return nil, ErrNotNumber
	}
	a, d := binary.LittleEndian.Uint64(old[1:]), binary.LittleEndian.Uint64(delta[1:])
	var sum uint64
	if delta[0] == tagFloat {
		sum = math.Float64bits(math.Float64frombits(a) + math.Float64frombits(d))
	} else {
		sum = a + d // two's complement: the same for signed and unsigned
	}
	return binary.LittleEndian.AppendUint64([]byte{delta[0]}, sum), nil
}
