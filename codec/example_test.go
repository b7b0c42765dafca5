package codec_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/shmkit/shmkit/codec"
)

func ExampleBinary() {
	type sample struct {
		T     int64
		Value float64
	}
	c := codec.MustBinary[sample]()
	rec := make([]byte, 0, c.Size(nil)) // e.g. a record reserved in a ring
	rec, _ = c.Append(rec, &sample{T: 1, Value: 2.5})
	var s sample
	_ = c.Decode(rec, &s)
	fmt.Println(len(rec), s)
	// Output: 16 {1 2.5}
}

func ExampleGob() {
	c := codec.Default[map[string]int]() // not fixed-size: gob
	b, _ := c.Append(nil, &map[string]int{"a": 1})
	var m map[string]int
	_ = c.Decode(b, &m)
	fmt.Println(codec.Name(c), m)
	// Output: gob map[a:1]
}

// jsonCodec plugs encoding/json in as a codec: three methods. A protobuf
// or msgpack codec has the same shape.
type jsonCodec[T any] struct{}

func (jsonCodec[T]) Size(*T) int { return -1 } // known only once encoded

func (jsonCodec[T]) Append(dst []byte, v *T) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(dst, b...), err
}

func (jsonCodec[T]) Decode(src []byte, v *T) error { return json.Unmarshal(src, v) } // copies out of src

// CodecName names the codec in queue and pipe handles.
func (jsonCodec[T]) CodecName() string { return "json" }

func Example_customCodec() {
	type point struct{ X, Y int }
	var c codec.Codec[point] = jsonCodec[point]{}
	codec.Register(c) // in every process that decodes a queue or pipe handle naming "json"
	b, _ := c.Append(nil, &point{1, 2})
	var p point
	_ = c.Decode(b, &p)
	fmt.Println(string(b), p, codec.Name(c))
	// Output: {"X":1,"Y":2} {1 2} json
}

// Bytes carries a []byte as it is; Decode reuses the room in the slice it
// decodes into.
func ExampleBytes() {
	c := codec.Default[[]byte]() // Bytes
	msg := []byte("ping")
	rec, _ := c.Append(nil, &msg)
	buf := make([]byte, 0, 64) // reused for every message
	_ = c.Decode(rec, &buf)
	fmt.Println(codec.Name(c), c.Size(&msg), string(buf), cap(buf))
	// Output: bytes 4 ping 64
}

// String carries a string's bytes.
func ExampleString() {
	c := codec.Default[string]() // String
	s := "héllo"
	rec, _ := c.Append(nil, &s)
	var out string
	_ = c.Decode(rec, &out)
	fmt.Println(codec.Name(c), len(rec), out)
	// Output: string 6 héllo
}

// A nil pointer arrives as nil: Python's None poison pill.
func ExampleGob_nil() {
	type task struct{ A, B int }
	c := codec.Default[*task]()
	var pill *task
	rec, _ := c.Append(nil, &pill)
	got := &task{}
	_ = c.Decode(rec, &got)
	fmt.Println(codec.Name(c), got == nil)
	// Output: gob true
}

// Types that encode themselves (encoding.BinaryAppender or
// BinaryMarshaler, and BinaryUnmarshaler) are encoded their way.
func ExampleMarshaler() {
	c := codec.Default[netip.Addr]()
	a := netip.MustParseAddr("192.0.2.1")
	rec, _ := c.Append(nil, &a)
	var b netip.Addr
	_ = c.Decode(rec, &b)
	fmt.Println(codec.Name(c), len(rec), b)
	// Output: marshaler 4 192.0.2.1
}

// upper is a codec of its own: strings carried in upper case. CodecName
// (the Namer interface) gives it a stable name.
type upper struct{ codec.String }

func (upper) Append(dst []byte, v *string) ([]byte, error) {
	return append(dst, strings.ToUpper(*v)...), nil
}

func (upper) CodecName() string { return "upper" }

// Register makes a codec findable by its name in this process, as a worker
// must find the codec named in a queue or pipe handle it decodes.
func ExampleRegister() {
	codec.Register[string](upper{}) // at init, in every process
	c, err := codec.ByName[string]("upper")
	if err != nil {
		panic(err)
	}
	s := "quiet"
	rec, _ := c.Append(nil, &s)
	_, err = codec.ByName[string]("shout")
	fmt.Println(string(rec), errors.Is(err, codec.ErrUnknownCodec))
	// Output: QUIET true
}
