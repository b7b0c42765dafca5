package manager

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"sync"
	"unsafe"

	"github.com/shmkit/shmkit/codec"
)

// Keys travel in an order-preserving encoding, so that the server, which
// knows no Go type, keeps a Dict's keys in their order by comparing bytes:
// integers as 8 big-endian bytes (the sign bit flipped for signed ones),
// floats as their IEEE bits made sortable (-0 as 0: the keys are equal),
// strings as their bytes.

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
	switch kind {
	case keyInt:
		return binary.BigEndian.AppendUint64(dst, uint64(intOf(&k))^(1<<63))
	case keyUint:
		return binary.BigEndian.AppendUint64(dst, uintOf(&k))
	case keyFloat:
		f := floatOf(&k)
		if f == 0 {
			f = 0 // -0 == 0: one key, as in a Go map and a Python dict
		}
		bits := math.Float64bits(f)
		if bits>>63 != 0 {
			bits = ^bits
		} else {
			bits ^= 1 << 63
		}
		return binary.BigEndian.AppendUint64(dst, bits)
	default:
		return append(dst, *(*string)(unsafe.Pointer(&k))...)
	}
}

// decodeKey is appendKey's inverse.
func decodeKey[K cmp.Ordered](kind keyKind, b []byte) (K, error) {
	var k K
	if kind != keyString && len(b) != 8 {
		return k, fmt.Errorf("%w: key of %d bytes", ErrBadReply, len(b))
	}
	switch kind {
	case keyInt:
		setInt(&k, int64(binary.BigEndian.Uint64(b)^(1<<63)))
	case keyUint:
		setUint(&k, binary.BigEndian.Uint64(b))
	case keyFloat:
		bits := binary.BigEndian.Uint64(b)
		if bits>>63 != 0 {
			bits ^= 1 << 63
		} else {
			bits = ^bits
		}
		setFloat(&k, math.Float64frombits(bits))
	default:
		*(*string)(unsafe.Pointer(&k)) = string(b)
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

// valueCodecs caches newValueCodec's codecs by type (codec.Default costs
// a type check each time).
var valueCodecs sync.Map // reflect.Type -> valueCodec[V]

// newValueCodec returns V's value codec. Every call of a proxy asks: a
// number's kind is read off its type (a few ns, no lookup), and only
// other types look their codec up.
func newValueCodec[V any]() valueCodec[V] {
	if tag := numericTag[V](); tag != 0 {
		return valueCodec[V]{tag: tag}
	}
	t := reflect.TypeFor[V]()
	if vc, ok := valueCodecs.Load(t); ok {
		return vc.(valueCodec[V])
	}
	vc := valueCodec[V]{tag: tagCodec, c: codec.Default[V]()}
	valueCodecs.Store(t, vc)
	return vc
}

// numericTag is V's number tag, or 0 when V is not a number.
func numericTag[V any]() byte {
	switch reflect.TypeFor[V]().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return tagInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return tagUint
	case reflect.Float32, reflect.Float64:
		return tagFloat
	}
	return 0
}

// numeric reports whether V is a number the server can add to.
func (vc valueCodec[V]) numeric() bool { return vc.tag != tagCodec }

// width is V's size in bytes, which an Add sends after its delta: the
// server's sum is a number of that width.
func (vc valueCodec[V]) width() byte {
	var v V
	return byte(unsafe.Sizeof(v))
}

// appendValue appends v's tagged encoding to dst.
func (vc valueCodec[V]) appendValue(dst []byte, v *V) ([]byte, error) {
	dst = append(dst, vc.tag)
	switch vc.tag {
	case tagInt:
		return binary.LittleEndian.AppendUint64(dst, uint64(intOf(v))), nil
	case tagUint:
		return binary.LittleEndian.AppendUint64(dst, uintOf(v)), nil
	case tagFloat:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(floatOf(v))), nil
	}
	cv := *v // a copy escapes to the codec, v does not: numbers cost no allocation
	return vc.c.Append(dst, &cv)
}

// decodeValue is appendValue's inverse.
func (vc valueCodec[V]) decodeValue(b []byte, v *V) error {
	if len(b) == 0 || b[0] != vc.tag {
		return fmt.Errorf("%w: the value was stored as another type", ErrType)
	}
	b = b[1:]
	if vc.tag == tagCodec {
		var cv V // escapes to the codec, v does not
		err := vc.c.Decode(b, &cv)
		*v = cv
		if err != nil {
			// Every type but the numbers shares tagCodec: a value that
			// does not decode as V was stored as another type (or is
			// corrupt).
			return fmt.Errorf("%w: %w", ErrType, err)
		}
		return nil
	}
	if len(b) != 8 {
		return fmt.Errorf("%w: number of %d bytes", ErrBadReply, len(b))
	}
	x := binary.LittleEndian.Uint64(b)
	switch vc.tag {
	case tagInt:
		setInt(v, int64(x))
	case tagUint:
		setUint(v, x)
	default:
		setFloat(v, math.Float64frombits(x))
	}
	return nil
}

// addNumbers adds the tagged number delta to the tagged number old (absent:
// zero) and returns the tagged sum, a number of width bytes as Go's
// arithmetic on the caller's type gives it (an int8 wraps at 8 bits, a
// float32 sum is rounded to float32), so that the value stored is the
// value its readers decode; it runs in the server.
func addNumbers(old []byte, have bool, delta []byte, width byte) ([]byte, error) {
	if len(delta) != 9 || delta[0] == tagCodec {
		return nil, ErrNotNumber
	}
	if width != 1 && width != 2 && width != 4 && width != 8 || delta[0] == tagFloat && width < 4 {
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
	return binary.LittleEndian.AppendUint64([]byte{delta[0]}, narrow(delta[0], sum, width)), nil
}

// narrow makes the 64-bit number x (tag) one of width bytes, encoded as
// appendValue encodes a value of that size.
func narrow(tag byte, x uint64, width byte) uint64 {
	switch {
	case tag == tagFloat && width == 4:
		return math.Float64bits(float64(float32(math.Float64frombits(x))))
	case tag == tagFloat || width == 8:
		return x
	case tag == tagInt:
		shift := 64 - 8*uint(width)
		return uint64(int64(x<<shift) >> shift) // sign-extended, as intOf reads it
	}
	return x & (1<<(8*uint(width)) - 1)
}

// The numbers of any integer or floating-point type, named or not, read and
// written through their size: the one place this package uses unsafe. The
// callers have checked the kind with reflect (kindOfKey, newValueCodec),
// and a type of such a kind has the layout of the sized type.

func intOf[T any](p *T) int64 {
	switch unsafe.Sizeof(*p) {
	case 1:
		return int64(*(*int8)(unsafe.Pointer(p)))
	case 2:
		return int64(*(*int16)(unsafe.Pointer(p)))
	case 4:
		return int64(*(*int32)(unsafe.Pointer(p)))
	}
	return *(*int64)(unsafe.Pointer(p))
}

func uintOf[T any](p *T) uint64 {
	switch unsafe.Sizeof(*p) {
	case 1:
		return uint64(*(*uint8)(unsafe.Pointer(p)))
	case 2:
		return uint64(*(*uint16)(unsafe.Pointer(p)))
	case 4:
		return uint64(*(*uint32)(unsafe.Pointer(p)))
	}
	return *(*uint64)(unsafe.Pointer(p))
}

func floatOf[T any](p *T) float64 {
	if unsafe.Sizeof(*p) == 4 {
		return float64(*(*float32)(unsafe.Pointer(p)))
	}
	return *(*float64)(unsafe.Pointer(p))
}

// setInt stores x into *p, truncated to its size.
func setInt[T any](p *T, x int64) {
	switch unsafe.Sizeof(*p) {
	case 1:
		*(*int8)(unsafe.Pointer(p)) = int8(x)
	case 2:
		*(*int16)(unsafe.Pointer(p)) = int16(x)
	case 4:
		*(*int32)(unsafe.Pointer(p)) = int32(x)
	default:
		*(*int64)(unsafe.Pointer(p)) = x
	}
}

func setUint[T any](p *T, x uint64) {
	switch unsafe.Sizeof(*p) {
	case 1:
		*(*uint8)(unsafe.Pointer(p)) = uint8(x)
	case 2:
		*(*uint16)(unsafe.Pointer(p)) = uint16(x)
	case 4:
		*(*uint32)(unsafe.Pointer(p)) = uint32(x)
	default:
		*(*uint64)(unsafe.Pointer(p)) = x
	}
}

func setFloat[T any](p *T, x float64) {
	if unsafe.Sizeof(*p) == 4 {
		*(*float32)(unsafe.Pointer(p)) = float32(x)
		return
	}
	*(*float64)(unsafe.Pointer(p)) = x
}
