package codec_test

import (
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
