package codec_test

import (
	"bytes"
	"encoding/gob"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/shmkit/shmkit/codec"
	"github.com/shmkit/shmkit/shm"
)

type point struct {
	X, Y int32
	Ok   bool
	Tag  [3]uint8
}

type withSlice struct {
	ID   int
	Tags []string
}

func TestBinaryRoundTrip(t *testing.T) {
	c := codec.MustBinary[point]()
	in := point{X: -7, Y: 1 << 20, Ok: true, Tag: [3]uint8{1, 2, 3}}
	if n := c.Size(&in); n != 12 {
		t.Fatalf("Size = %d, want 12", n)
	}
	rec := make([]byte, 0, 12)
	b, err := c.Append(rec, &in)
	if err != nil || len(b) != 12 || &b[0] != &rec[:1][0] {
		t.Fatalf("Append did not write in place: len %d err %v", len(b), err)
	}
	var out point
	if err := c.Decode(b, &out); err != nil || out != in {
		t.Fatalf("Decode = %+v, %v; want %+v", out, err, in)
	}
	if err := c.Decode(b[:11], &out); !errors.Is(err, codec.ErrDecode) {
		t.Fatalf("short Decode err = %v", err)
	}
	b[8] = 2 // the bool
	if err := c.Decode(b, &out); !errors.Is(err, codec.ErrDecode) || !strings.Contains(err.Error(), "bool") {
		t.Fatalf("bad bool Decode err = %v", err)
	}
}

// TestBinaryDecodeAnyOffset: Append and Decode copy T's bytes to and from
// wherever the slice starts, word by word (copyPlain) or, for a T whose
// size is not a whole number of words or with bools, with copy; both give
// the value put in, and a short or long src is an error either way.
func TestBinaryDecodeAnyOffset(t *testing.T) {
	type rec struct { // 24 bytes: one 16-byte move and one of 8
		A int64
		B int32
		C [4]byte
		D [8]byte
	}
	testDecodeAnyOffset(t, rec{A: -1 << 40, B: 7, C: [4]byte{1, 2, 3, 4}, D: [8]byte{9, 8, 7}})
	testDecodeAnyOffset(t, [64]byte{0: 1, 31: 2, 63: 3})
	testDecodeAnyOffset(t, [5]byte{1, 2, 3, 4, 5})  // not whole words: copy
	testDecodeAnyOffset(t, [300]byte{0: 1, 299: 2}) // past copyPlainMax: copy

	// A value that lies in the slice it is decoded from or appended to:
	// the bytes overlap, and must come out as copy gives them.
	type words [4]uint64
	w := codec.MustBinary[words]()
	for _, shift := range []int{8, 16, 24} {
		mem := make([]byte, 64)
		for i := range mem {
			mem[i] = byte(i)
		}
		want := make([]byte, 64)
		copy(want, mem)
		copy(want[shift:shift+32], want[:32])
		v := (*words)(unsafe.Pointer(&mem[shift]))
		if err := w.Decode(mem[:32], v); err != nil || !bytes.Equal(mem, want) {
			t.Fatalf("Decode into itself shifted %d: %v\n got %v\nwant %v", shift, err, mem, want)
		}
	}

	// A zero-size T: nothing to copy, and no byte of dst to take the
	// address of (Append into a nil slice panicked).
	z := codec.MustBinary[struct{}]()
	for _, dst := range [][]byte{nil, make([]byte, 0, 4), make([]byte, 2)} {
		b, err := z.Append(dst, &struct{}{})
		if err != nil || len(b) != len(dst) {
			t.Fatalf("Append of a zero-size value to %d bytes: %d bytes, %v", len(dst), len(b), err)
		}
		if err := z.Decode(b[len(b):], &struct{}{}); err != nil {
			t.Fatalf("Decode of a zero-size value: %v", err)
		}
	}
}

func testDecodeAnyOffset[T comparable](t *testing.T, in T) {
	t.Helper()
	c := codec.MustBinary[T]()
	buf := make([]byte, c.Size(&in)+32)
	for off := 0; off <= 16; off++ {
		b, err := c.Append(buf[off:off], &in)
		if err != nil || len(b) != c.Size(&in) || &b[0] != &buf[off] {
			t.Fatalf("offset %d: Append wrote %d bytes (%v), not in place", off, len(b), err)
		}
		var out T
		if err := c.Decode(b, &out); err != nil || out != in {
			t.Fatalf("offset %d: Decode = %v, %v; want %v", off, out, err, in)
		}
		if err := c.Decode(buf[off:off+len(b)+1], &out); !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("offset %d: long Decode err = %v", off, err)
		}
		if err := c.Decode(b[:len(b)-1], &out); !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("offset %d: short Decode err = %v", off, err)
		}
	}
	// Append past dst's room grows it, as append does.
	b, err := c.Append(make([]byte, 3, 4), &in)
	var out T
	if err != nil || len(b) != 3+c.Size(&in) || c.Decode(b[3:], &out) != nil || out != in {
		t.Fatalf("Append past dst's room: %d bytes, %v", len(b), err)
	}
}

func TestBinaryRefusesPointers(t *testing.T) {
	_, err := codec.NewBinary[withSlice]()
	if !errors.Is(err, shm.ErrUnsupportedType) || !strings.Contains(err.Error(), "Tags") {
		t.Fatalf("err = %v, want ErrUnsupportedType naming Tags", err)
	}
	if _, ok := codec.Default[withSlice]().(codec.Gob[withSlice]); !ok {
		t.Fatal("Default of a slice-holding struct is not Gob")
	}
	if _, ok := codec.Default[int64]().(*codec.Binary[int64]); !ok {
		t.Fatal("Default of int64 is not Binary")
	}
}

func TestBinaryZeroAllocs(t *testing.T) {
	c := codec.MustBinary[int64]()
	buf := make([]byte, 0, 8)
	v, out := int64(42), int64(0)
	n := testing.AllocsPerRun(100, func() {
		b, _ := c.Append(buf, &v)
		_ = c.Decode(b, &out)
	})
	if n != 0 || out != 42 {
		t.Fatalf("allocs %v, out %d", n, out)
	}
}

type shape interface{ Area() float64 }

type square struct{ Side float64 }

func (s square) Area() float64 { return s.Side * s.Side }

func TestGobRoundTrip(t *testing.T) {
	var c codec.Codec[withSlice] = codec.Gob[withSlice]{}
	in := withSlice{ID: 3, Tags: []string{"a", "bc"}}
	b, err := c.Append([]byte("prefix"), &in)
	if err != nil || !bytes.HasPrefix(b, []byte("prefix")) {
		t.Fatal(err)
	}
	out := withSlice{Tags: []string{"stale"}}
	if err := c.Decode(b[6:], &out); err != nil || out.ID != 3 || len(out.Tags) != 2 || out.Tags[1] != "bc" {
		t.Fatalf("Decode = %+v, %v", out, err)
	}
	if err := c.Decode(b[7:], &out); !errors.Is(err, codec.ErrDecode) {
		t.Fatalf("garbage Decode err = %v", err)
	}

	gob.Register(square{})
	var ci codec.Codec[shape] = codec.Gob[shape]{}
	var s shape = square{3}
	b, err = ci.Append(nil, &s)
	if err != nil {
		t.Fatal(err)
	}
	var s2 shape
	if err := ci.Decode(b, &s2); err != nil || s2.Area() != 9 {
		t.Fatalf("interface Decode = %v, %v", s2, err)
	}
}

func TestBytesAndString(t *testing.T) {
	in := []byte("hello")
	b, _ := codec.Bytes{}.Append(make([]byte, 0, 5), &in)
	out := make([]byte, 0, 16)
	p := &out[:1][0]
	if err := (codec.Bytes{}).Decode(b, &out); err != nil || string(out) != "hello" || &out[0] != p {
		t.Fatalf("Bytes Decode = %q %v (reused buffer: %v)", out, err, &out[0] == p)
	}
	s := "hru?"
	b, _ = codec.String{}.Append(nil, &s)
	var s2 string
	if err := (codec.String{}).Decode(b, &s2); err != nil || s2 != s {
		t.Fatalf("String Decode = %q %v", s2, err)
	}
	if codec.Name[string](codec.String{}) != "string" || codec.Name(codec.Default[int32]()) != "binary" {
		t.Fatal("Name", codec.Name[string](codec.String{}), codec.Name(codec.Default[int32]()))
	}
}

// The fuzz targets feed garbage to every decoder: none may panic, and what
// decodes must re-encode to the same value. Seeds are in testdata/fuzz.

func FuzzBinaryDecode(f *testing.F) {
	c := codec.MustBinary[point]()
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		var p point
		if err := c.Decode(b, &p); err != nil {
			return
		}
		out, _ := c.Append(nil, &p)
		var q point
		if err := c.Decode(out, &q); err != nil || q != p {
			t.Fatalf("re-decode %+v != %+v (%v)", q, p, err)
		}
	})
}

func FuzzGobDecode(f *testing.F) {
	c := codec.Gob[withSlice]{}
	seed, _ := c.Append(nil, &withSlice{ID: 1, Tags: []string{"x"}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var v withSlice
		if err := c.Decode(b, &v); err != nil {
			return
		}
		out, err := c.Append(nil, &v)
		if err != nil {
			t.Fatal(err)
		}
		var w withSlice
		if err := c.Decode(out, &w); err != nil || w.ID != v.ID || len(w.Tags) != len(v.Tags) {
			t.Fatalf("re-decode %+v != %+v (%v)", w, v, err)
		}
	})
}

func FuzzBytesDecode(f *testing.F) {
	f.Add([]byte("hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v []byte
		if err := (codec.Bytes{}).Decode(b, &v); err != nil || !bytes.Equal(v, b) {
			t.Fatalf("Decode = %q, %v", v, err)
		}
	})
}

func BenchmarkBinaryInt64(b *testing.B) {
	c := codec.MustBinary[int64]()
	buf := make([]byte, 0, 8)
	var v, out int64
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		v = int64(i)
		e, _ := c.Append(buf, &v)
		_ = c.Decode(e, &out)
	}
}

func BenchmarkGobStruct(b *testing.B) {
	c := codec.Gob[withSlice]{}
	in := withSlice{ID: 1, Tags: []string{"a"}}
	var buf []byte
	var out withSlice
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = c.Append(buf[:0], &in)
		_ = c.Decode(buf, &out)
	}
}

// TestGobWarmAndCold checks that the warm path and a fresh decoder agree,
// for a struct, a predeclared type, a type holding an interface (never
// cached), and a stream made by a fresh encoder (as another process's
// would be, modulo type ids).
func TestGobWarmAndCold(t *testing.T) {
	c := codec.Gob[withSlice]{}
	for i := range 3 {
		in := withSlice{ID: i, Tags: []string{strings.Repeat("x", i)}}
		b, err := c.Append(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		var cold withSlice
		if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&cold); err != nil || cold.ID != i {
			t.Fatalf("a fresh gob decoder reads %+v, %v", cold, err)
		}
		var fresh bytes.Buffer
		gob.NewEncoder(&fresh).Encode(&in)
		for _, src := range [][]byte{b, fresh.Bytes()} {
			var out withSlice
			if err := c.Decode(src, &out); err != nil || out.ID != i || out.Tags[0] != in.Tags[0] {
				t.Fatalf("Decode = %+v, %v", out, err)
			}
		}
	}
	s := codec.Gob[string]{}
	for _, in := range []string{"a", "bc"} {
		b, _ := s.Append(nil, &in)
		var out string
		if err := s.Decode(b, &out); err != nil || out != in {
			t.Fatalf("string Decode = %q, %v", out, err)
		}
	}
	type holder struct{ S shape }
	gob.Register(square{})
	h := codec.Gob[holder]{}
	for i := range 2 {
		in := holder{S: square{float64(i)}}
		b, _ := h.Append(nil, &in)
		var out holder
		if err := h.Decode(b, &out); err != nil || out.S.Area() != float64(i*i) {
			t.Fatalf("interface field Decode = %+v, %v", out, err)
		}
	}
	n := testing.AllocsPerRun(100, func() {
		in := withSlice{ID: 1}
		b, _ := c.Append(nil, &in)
		var out withSlice
		c.Decode(b, &out)
	})
	if n > 20 && !raceEnabled { // the race detector makes sync.Pool drop items
		t.Fatalf("warm gob round trip: %v allocs", n)
	}
}

// TestGobConcurrent round-trips from many goroutines at once: the warm
// encoders and decoders are pooled and must never be shared.
func TestGobConcurrent(t *testing.T) {
	c := codec.Gob[withSlice]{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				in := withSlice{ID: g*1000 + i, Tags: []string{"t"}}
				b, err := c.Append(nil, &in)
				if err != nil {
					t.Error(err)
					return
				}
				var out withSlice
				if err := c.Decode(b, &out); err != nil || out.ID != in.ID {
					t.Errorf("Decode = %+v, %v; want ID %d", out, err, in.ID)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDefaultPicks(t *testing.T) {
	type raw []byte
	for _, c := range []struct{ got, want string }{
		{codec.Name(codec.Default[[]byte]()), "bytes"},
		{codec.Name(codec.Default[string]()), "string"},
		{codec.Name(codec.Default[time.Time]()), "marshaler"},
		{codec.Name(codec.Default[netip.Addr]()), "marshaler"},
		{codec.Name(codec.Default[int64]()), "binary"},
		{codec.Name(codec.Default[raw]()), "gob"},
		{codec.Name(codec.Default[*int]()), "gob"},
		{codec.Name(codec.Default[map[string]int]()), "gob"},
	} {
		if c.got != c.want {
			t.Errorf("Default picks %s, want %s", c.got, c.want)
		}
	}
	for _, name := range []string{"bytes", "string", "marshaler", "binary", "gob"} {
		if _, err := codec.ByName[[]byte](name); (err == nil) != (name == "bytes" || name == "gob") {
			t.Errorf("ByName[[]byte](%q) = %v", name, err)
		}
	}
	if c, err := codec.ByName[time.Time]("marshaler"); err != nil || codec.Name(c) != "marshaler" {
		t.Errorf("ByName[time.Time](marshaler) = %v, %v", c, err)
	}
	if got := codec.Name(codec.OrDefault[int64](nil)); got != "binary" {
		t.Errorf("OrDefault[int64](nil) is %s, want Default's binary", got)
	}
	if got := codec.Name(codec.OrDefault[int64](codec.Gob[int64]{})); got != "gob" {
		t.Errorf("OrDefault of a Gob codec is %s, want it kept", got)
	}
}

func TestGobNilPointer(t *testing.T) {
	type task struct{ A, B int }
	c := codec.Default[*task]()
	var nilTask *task
	b, err := c.Append([]byte("x"), &nilTask)
	if err != nil || string(b) != "x\x00" {
		t.Fatalf("Append(nil) = %q, %v", b, err)
	}
	got := &task{A: 1}
	if err := c.Decode(b[1:], &got); err != nil || got != nil {
		t.Fatalf("Decode(nil) = %v, %v; want nil", got, err)
	}
	for range 3 { // cold, then warm encoders and decoders
		in := &task{A: 2, B: 3}
		b, err = c.Append(nil, &in)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Decode(b, &got); err != nil || got == nil || *got != (task{2, 3}) {
			t.Fatalf("Decode = %v, %v", got, err)
		}
	}
	zero := &task{}
	b, _ = c.Append(nil, &zero)
	if err := c.Decode(b, &got); err != nil || got == nil || *got != (task{}) {
		t.Fatalf("a pointer to a zero task = %v, %v; want &{0 0}", got, err)
	}
	for _, bad := range []string{"", "\x02", "\x00\x00", "\x01"} {
		if err := c.Decode([]byte(bad), &got); !errors.Is(err, codec.ErrDecode) {
			t.Errorf("Decode(%q) = %v, want ErrDecode", bad, err)
		}
	}
}

func TestMarshaler(t *testing.T) {
	c := codec.Default[time.Time]()
	in := time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)
	b, err := c.Append([]byte("x"), &in)
	if err != nil {
		t.Fatal(err)
	}
	var out time.Time
	if err := c.Decode(b[1:], &out); err != nil || !out.Equal(in) {
		t.Fatalf("Decode = %v, %v", out, err)
	}
	if err := c.Decode([]byte{0xff}, &out); !errors.Is(err, codec.ErrDecode) {
		t.Fatalf("Decode(garbage) = %v, want ErrDecode", err)
	}
	var bad codec.Marshaler[int]
	n := 1
	if _, err := bad.Append(nil, &n); err == nil {
		t.Fatal("Marshaler[int].Append: no error")
	}
	if err := bad.Decode([]byte{1}, &n); !errors.Is(err, codec.ErrDecode) {
		t.Fatalf("Marshaler[int].Decode = %v", err)
	}
}

func FuzzMarshalerDecode(f *testing.F) {
	c := codec.Marshaler[netip.Addr]{}
	seed, _ := c.Append(nil, &[]netip.Addr{netip.MustParseAddr("fe80::1%eth0")}[0])
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var v netip.Addr
		if err := c.Decode(b, &v); err != nil {
			return
		}
		out, err := c.Append(nil, &v)
		if err != nil {
			t.Fatal(err)
		}
		var w netip.Addr
		if err := c.Decode(out, &w); err != nil || w != v {
			t.Fatalf("re-decode %v != %v (%v)", w, v, err)
		}
	})
}

func FuzzGobPointerDecode(f *testing.F) {
	c := codec.Gob[*withSlice]{}
	seed, _ := c.Append(nil, &[]*withSlice{{ID: 1, Tags: []string{"x"}}}[0])
	f.Add(seed)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var v *withSlice
		if err := c.Decode(b, &v); err != nil {
			return
		}
		out, err := c.Append(nil, &v)
		if err != nil {
			t.Fatal(err)
		}
		var w *withSlice
		if err := c.Decode(out, &w); err != nil || (w == nil) != (v == nil) || w != nil && w.ID != v.ID {
			t.Fatalf("re-decode %+v != %+v (%v)", w, v, err)
		}
	})
}
