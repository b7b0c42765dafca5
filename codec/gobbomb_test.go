package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/shmkit/shmkit/codec"
)

type mapInner struct {
	Scores map[string]int
	Note   string
}

type withMaps struct {
	Name  string
	Inner []mapInner
	ByID  map[int64]*mapInner
	Sets  map[string][]int
	When  time.Time // a GobEncoder: opaque bytes on the wire
	Grid  [2][2]float64
	Z     complex128
	Raw   []byte
	Empty map[string]struct{}
	Next  *withMaps
	Pairs map[[2]int8]bool
	Big   *big.Int
}

// gobMessages splits a gob stream into its messages (length-prefixed).
func gobMessages(t *testing.T, b []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		n, k := gobUintOf(b)
		if k == 0 || int(n) > len(b)-k {
			t.Fatalf("not a gob stream: %x", b)
		}
		out = append(out, b[k:k+int(n)])
		b = b[k+int(n):]
	}
	return out
}

func gobUintOf(b []byte) (uint64, int) {
	if b[0] < 0x80 {
		return uint64(b[0]), 1
	}
	n := -int(int8(b[0]))
	var v uint64
	for _, c := range b[1 : n+1] {
		v = v<<8 | uint64(c)
	}
	return v, n + 1
}

func appendGobUint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	var be [8]byte
	binary.BigEndian.PutUint64(be[:], v)
	i := 0
	for be[i] == 0 {
		i++
	}
	return append(append(b, byte(-(8-i))), be[i:]...)
}

// gobBomb encodes v, whose only one-entry map has the key marker, and
// makes that map's count say count: a message of a few dozen bytes.
func gobBomb[T any](t *testing.T, v T, marker []byte, count uint64) []byte {
	t.Helper()
	enc, err := codec.Gob[T]{}.Append(nil, &v)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	if reflect.TypeFor[T]().Kind() == reflect.Pointer {
		out, enc = enc[:1], enc[1:] // the nil flag
	}
	msgs := gobMessages(t, enc)
	last := msgs[len(msgs)-1]
	i := bytes.Index(last, marker)
	if i < 1 || last[i-1] != 1 {
		t.Fatalf("no one-entry map before %x in %x", marker, last)
	}
	patched := append(appendGobUint(append([]byte(nil), last[:i-1]...), count), last[i:]...)
	for _, m := range msgs[:len(msgs)-1] {
		out = append(appendGobUint(out, uint64(len(m))), m...)
	}
	return append(appendGobUint(out, uint64(len(patched))), patched...)
}

// decodeAllocs decodes src with c and returns the bytes allocated
// meanwhile and the error.
func decodeAllocs[T any](src []byte) (uint64, error) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	var v T
	err := codec.Gob[T]{}.Decode(src, &v)
	runtime.ReadMemStats(&ms)
	return ms.TotalAlloc - before, err
}

// TestGobMapBomb: a message of a few dozen bytes whose map count says
// millions is ErrDecode, without gob making a map of that size first (a
// count of 2^28 in 25 bytes made it allocate 9 GiB before it failed).
func TestGobMapBomb(t *testing.T) {
	const limit = 32 << 20
	top := gobBomb(t, map[int]int{7: 9}, []byte{0x0e, 0x12}, 1<<24) // key 7, value 9
	if n, err := decodeAllocs[map[int]int](top); !errors.Is(err, codec.ErrDecode) || n > limit {
		t.Fatalf("a %d-byte map[int]int of 2^24 entries: %v after allocating %d MiB, want ErrDecode with under %d MiB", len(top), err, n>>20, limit>>20)
	}
	nested := gobBomb(t, withMaps{Inner: []mapInner{{Scores: map[string]int{"BOMB": 1}}}}, []byte("\x04BOMB"), 1<<23)
	if n, err := decodeAllocs[withMaps](nested); !errors.Is(err, codec.ErrDecode) || n > limit {
		t.Fatalf("a %d-byte struct with a map of 2^23 entries inside: %v after allocating %d MiB, want ErrDecode with under %d MiB", len(nested), err, n>>20, limit>>20)
	}
	ptr := gobBomb(t, &mapInner{Scores: map[string]int{"BOMB": 1}}, []byte("\x04BOMB"), 1<<23)
	if n, err := decodeAllocs[*mapInner](ptr); !errors.Is(err, codec.ErrDecode) || n > limit {
		t.Fatalf("a %d-byte *mapInner with a map of 2^23 entries: %v after allocating %d MiB, want ErrDecode with under %d MiB", len(ptr), err, n>>20, limit>>20)
	}
}

// TestGobMapsRoundTrip: values with maps in every place the check walks
// (nested, in slices, of structs, of slices, empty, beside opaque
// GobEncoders, arrays, complex numbers, a recursive type) still decode.
func TestGobMapsRoundTrip(t *testing.T) {
	in := withMaps{
		Name:  "n",
		Inner: []mapInner{{Scores: map[string]int{"a": 1, "b": -2}, Note: "x"}, {}},
		ByID:  map[int64]*mapInner{-5: {Scores: map[string]int{"": 0}}, 1 << 40: {Note: "y"}},
		Sets:  map[string][]int{"s": {1, 2, 3}, "e": {}},
		When:  time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Grid:  [2][2]float64{{1.5, 0}, {-2, 3}},
		Z:     complex(1, -1),
		Raw:   []byte{0, 1, 2},
		Empty: map[string]struct{}{"k": {}, "l": {}},
		Next:  &withMaps{Name: "next", Sets: map[string][]int{"t": nil}, Next: &withMaps{Name: "last"}},
		Pairs: map[[2]int8]bool{{1, -1}: true, {0, 0}: false},
		Big:   big.NewInt(-12345),
	}
	c := codec.Gob[withMaps]{}
	for range 3 { // a cold decoder, then warm ones
		b, err := c.Append(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		var out withMaps
		if err := c.Decode(b, &out); err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if out.Inner[0].Scores["b"] != -2 || out.ByID[1<<40].Note != "y" || len(out.Sets["s"]) != 3 ||
			!out.When.Equal(in.When) || out.Grid != in.Grid || out.Z != in.Z || !bytes.Equal(out.Raw, in.Raw) ||
			len(out.Empty) != 2 || out.Next.Next.Name != "last" || !out.Pairs[[2]int8{1, -1}] || len(out.Pairs) != 2 ||
			out.Big.Cmp(in.Big) != 0 {
			t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
		}
	}
	for _, m := range []map[int]int{nil, {}, {0: 0}, {1: 1, -1: 1 << 62}} {
		b, err := codec.Gob[map[int]int]{}.Append(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		var out map[int]int
		if err := (codec.Gob[map[int]int]{}).Decode(b, &out); err != nil || len(out) != len(m) {
			t.Fatalf("map %v: %v %v", m, out, err)
		}
	}
}

// FuzzGobMapsDecode: garbage decoded into a type with maps is ErrDecode
// or decodes; never a panic, never a map its bytes could not hold.
func FuzzGobMapsDecode(f *testing.F) {
	c := codec.Gob[withMaps]{}
	seed, _ := c.Append(nil, &withMaps{Name: "a", Inner: []mapInner{{Scores: map[string]int{"k": 1}}}, Sets: map[string][]int{"s": {1}}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var v withMaps
		if err := c.Decode(b, &v); err != nil && !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("%v does not match ErrDecode", err)
		}
	})
}

type descProbe struct {
	A int
	B []string
}

// TestGobDescriptionCacheBounded: Gob keeps warm decoders per type
// description met, up to 64 descriptions; messages from a buggy or hostile
// peer whose descriptions are large and garbage are ErrDecode, and leave
// neither their descriptions held for good nor the 64 places taken.
func TestGobDescriptionCacheBounded(t *testing.T) {
	const n, size = 64, 1 << 20
	c := codec.Gob[descProbe]{}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range n {
		def := make([]byte, size)
		def[0] = 1 // a type id of -1: a type definition, of garbage
		binary.LittleEndian.PutUint64(def[1:], uint64(i))
		msg := appendGobUint(nil, size)
		msg = append(msg, def...)
		msg = append(msg, 2, 2, 0) // a value message: type id 1
		var v descProbe
		if err := c.Decode(msg, &v); !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("message %d: %v, want ErrDecode", i, err)
		}
	}
	if grew := int64(heap()) - int64(before); grew > 16<<20 {
		t.Fatalf("%d garbage messages with %d-byte descriptions left the heap %d MiB larger", n, size, grew>>20)
	}
	in := descProbe{A: 3, B: []string{"x"}}
	b, err := c.Append(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var out descProbe
		if err := c.Decode(b, &out); err != nil || out.A != 3 || len(out.B) != 1 {
			t.Fatalf("a good message after the garbage: %+v %v", out, err)
		}
	}
}

type deepNode struct {
	V    int
	Next *deepNode
}

type deepWire struct {
	A int
	X *deepW
}

type deepW struct{ Next *deepW }

type deepLocal struct{ A int }

// gobDeep encodes v and replaces its value's fields with head followed by
// n bytes of step: a value nested n deep.
func gobDeep[T any](t *testing.T, v T, head []byte, step byte, n int) []byte {
	t.Helper()
	enc, err := codec.Gob[T]{}.Append(nil, &v)
	if err != nil {
		t.Fatal(err)
	}
	msgs := gobMessages(t, enc)
	last := msgs[len(msgs)-1]
	_, k := gobUintOf(last) // the value's type id
	body := append(append(append([]byte(nil), last[:k]...), head...), bytes.Repeat([]byte{step}, n)...)
	var out []byte
	for _, m := range msgs[:len(msgs)-1] {
		out = append(appendGobUint(out, uint64(len(m))), m...)
	}
	return append(appendGobUint(out, uint64(len(body))), body...)
}

// TestGobDeepNesting: a message of a few MiB nesting a recursive type
// millions deep, decoded into that type or into one without the field
// (gob skips it, by recursion too), is ErrDecode. encoding/gob recursed
// until the goroutine's stack passed its 1 GB limit, a fatal error that
// no recover catches: the process died. The decodes run in a child (this
// test binary again), so that a crash fails the test rather than ending
// the run.
func TestGobDeepNesting(t *testing.T) {
	const n = 4 << 20
	if os.Getenv("SHMKIT_GOB_DEEP") == "1" {
		var node deepNode
		err1 := codec.Gob[deepNode]{}.Decode(gobDeep(t, deepNode{V: 1, Next: &deepNode{}}, nil, 2, n), &node)
		var local deepLocal
		err2 := codec.Gob[deepLocal]{}.Decode(gobDeep(t, deepWire{A: 1, X: &deepW{}}, []byte{1, 2, 1}, 1, n), &local)
		if !errors.Is(err1, codec.ErrDecode) || !errors.Is(err2, codec.ErrDecode) {
			t.Fatalf("decodes nested %d deep: %v and %v, want ErrDecode", n, err1, err2)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGobDeepNesting$")
	cmd.Env = append(os.Environ(), "SHMKIT_GOB_DEEP=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if i := bytes.Index(out, []byte("fatal error")); i >= 0 {
			out = out[i:min(len(out), i+200)]
		}
		t.Fatalf("the decode of a message nested %d deep: %v\n%s", n, err, out)
	}
}
