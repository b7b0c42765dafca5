package codec_test

import (
	"encoding/json"
	"fmt"

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
