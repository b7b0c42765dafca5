package array_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shmkit/shmkit/array"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/shm"
	"github.com/shmkit/shmkit/value"
)

var (
	_ io.ReaderAt = (*array.Array[byte])(nil)
	_ io.WriterAt = (*array.Array[byte])(nil)
	_ io.ReaderAt = (*array.RawArray[byte])(nil)
	_ io.WriterAt = (*array.RawArray[byte])(nil)
)

func rangeOf(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}

func TestArray(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	a, err := array.CreateFrom(seg, "a", rangeOf(50))
	if err != nil {
		t.Fatal(err)
	}
	if a.Len() != 50 || a.At(49) != 49 {
		t.Fatalf("Len %d, At(49) %d", a.Len(), a.At(49))
	}
	a.Set(3, 300)
	b, err := array.Open[int32](seg, "a")
	if err != nil {
		t.Fatal(err)
	}
	if b.At(3) != 300 || b.Slice()[3] != 300 {
		t.Fatal("Set not seen through Open")
	}
	b.With(func(s []int32) {
		for i := range s {
			s[i] *= 2
		}
	})
	var sum int32
	for i, x := range a.All() {
		if x != 2*rangeOf(50)[i] && i != 3 {
			t.Fatalf("element %d = %d", i, x)
		}
		sum += x
	}
	if want := int32(2 * (49*50/2 - 3 + 300)); sum != want {
		t.Fatalf("sum %d, want %d", sum, want)
	}
	out := make([]int32, 60)
	if n := a.CopyTo(out); n != 50 || out[1] != 2 {
		t.Fatalf("CopyTo: %d, %v", n, out[:4])
	}
	if n := a.CopyFrom([]int32{7, 8}); n != 2 || a.At(0) != 7 || a.At(1) != 8 || a.At(2) != 4 {
		t.Fatalf("CopyFrom: %d, %v", n, a.Slice()[:3])
	}
	for i := range a.All() {
		if i == 2 {
			break // stopping early is fine
		}
	}

	z, err := array.Create[float64](seg, "z", 0)
	if err != nil || z.Len() != 0 {
		t.Fatalf("empty array: %v", err)
	}
}

func TestRawArray(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	r, err := array.CreateRaw[uint16](seg, "r", 4)
	if err != nil {
		t.Fatal(err)
	}
	r.Set(0, 1)
	r.Slice()[3] = 4
	r2, err := array.OpenRaw[uint16](seg, "r")
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Collect(valuesOf(r2.All())); !slices.Equal(got, []uint16{1, 0, 0, 4}) {
		t.Fatalf("All = %v", got)
	}
	dst := make([]uint16, 2)
	if r2.CopyTo(dst) != 2 || r2.CopyFrom([]uint16{9}) != 1 || r.At(0) != 9 {
		t.Fatal("CopyTo/CopyFrom")
	}
}

func valuesOf[T any](seq func(func(int, T) bool)) func(func(T) bool) {
	return func(yield func(T) bool) {
		for _, x := range seq {
			if !yield(x) {
				return
			}
		}
	}
}

func TestBytes(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	a, err := array.CreateFrom(seg, "b", []byte("hello, world"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := array.CreateRaw[byte](seg, "r", 12)
	if err != nil {
		t.Fatal(err)
	}
	for name, rw := range map[string]interface {
		io.ReaderAt
		io.WriterAt
	}{"Array": a, "RawArray": r} {
		if _, err := rw.WriteAt([]byte("hello, world"), 0); err != nil {
			t.Fatal(name, err)
		}
		if n, err := rw.WriteAt([]byte("WORLD!"), 7); n != 5 || !errors.Is(err, array.ErrOutOfRange) {
			t.Errorf("%s: WriteAt past the end: %d, %v", name, n, err)
		}
		if _, err := rw.WriteAt([]byte("x"), -1); !errors.Is(err, array.ErrOutOfRange) {
			t.Errorf("%s: WriteAt(-1): %v", name, err)
		}
		got, err := io.ReadAll(io.NewSectionReader(rw, 7, 100))
		if err != nil || string(got) != "WORLD" {
			t.Errorf("%s: section read %q, %v", name, got, err)
		}
		p := make([]byte, 4)
		if n, err := rw.ReadAt(p, 10); n != 2 || err != io.EOF {
			t.Errorf("%s: ReadAt at the end: %d, %v", name, n, err)
		}
		if _, err := rw.ReadAt(p, -3); !errors.Is(err, array.ErrOutOfRange) {
			t.Errorf("%s: ReadAt(-3): %v", name, err)
		}
		if n, err := rw.ReadAt(p, 12); n != 0 || err != io.EOF {
			t.Errorf("%s: ReadAt past the end: %d, %v", name, n, err)
		}
	}
	// The byte image of a wider T.
	w, err := array.CreateFrom(seg, "w", []uint32{0x04030201})
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 4)
	if _, err := w.ReadAt(p, 0); err != nil || !bytes.Equal(p, []byte{1, 2, 3, 4}) {
		t.Fatalf("bytes of a uint32 array: %v, %v", p, err)
	}
}

func TestOutOfRange(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	a, err := array.Create[int32](seg, "a", 4)
	if err != nil {
		t.Fatal(err)
	}
	r, err := array.CreateRaw[int32](seg, "r", 4)
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(){
		"At(4)":      func() { a.At(4) },
		"At(-1)":     func() { a.At(-1) },
		"Set(4)":     func() { a.Set(4, 1) },
		"raw At(4)":  func() { r.At(4) },
		"raw Set(9)": func() { r.Set(9, 1) },
	} {
		func() {
			defer func() {
				err, _ := recover().(error)
				if !errors.Is(err, array.ErrOutOfRange) || !strings.Contains(err.Error(), "length 4") {
					t.Errorf("%s: recovered %v, want ErrOutOfRange", name, err)
				}
			}()
			f()
		}()
	}
	a.Set(0, 1) // the lock was not left held by the panicking Set
	if a.At(0) != 1 {
		t.Fatal("Set after a refused Set")
	}
}

func TestRefusalsAndMismatch(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	type rec struct {
		ID   int64
		Tags []string
	}
	if _, err := array.Create[rec](seg, "bad", 3); !errors.Is(err, array.ErrUnsupportedType) || !strings.Contains(err.Error(), "Tags") {
		t.Errorf("array of rec: %v, want ErrUnsupportedType naming Tags", err)
	}
	if _, err := array.CreateRaw[map[string]int](seg, "bad", 3); !errors.Is(err, array.ErrUnsupportedType) {
		t.Errorf("raw array of maps: %v", err)
	}
	if _, err := array.Create[int64](seg, "i64", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := value.Create[int64](seg, "v", 3); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func() error{
		"int32 over int64": func() error { _, err := array.Open[int32](seg, "i64"); return err },
		"raw over locked":  func() error { _, err := array.OpenRaw[int64](seg, "i64"); return err },
		"array over value": func() error { _, err := array.Open[int64](seg, "v"); return err },
	} {
		if err := f(); !errors.Is(err, array.ErrIncompatible) {
			t.Errorf("%s: %v, want ErrIncompatible", name, err)
		}
	}
	a, _ := array.Open[int64](seg, "i64")
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(a); err != nil {
		t.Fatal(err)
	}
	var wrong array.Array[uint64]
	if err := gob.NewDecoder(&b).Decode(&wrong); !errors.Is(err, array.ErrIncompatible) {
		t.Errorf("handle of an Array[int64] into an Array[uint64]: %v", err)
	}
	if _, err := array.Create[int64](seg, "i64", 1); !errors.Is(err, shm.ErrExist) {
		t.Errorf("second Create: %v", err)
	}
}

func TestWorkerProcess(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	var a negateArgs
	var err error
	if a.A, err = array.CreateFrom(seg, "a", rangeOf(10)); err != nil {
		t.Fatal(err)
	}
	if a.Raw, err = array.CreateRawFrom(seg, "raw", []float64{0.5, 1.5}); err != nil {
		t.Fatal(err)
	}
	if a.B, err = array.CreateFrom(seg, "b", []byte("hello parent")); err != nil {
		t.Fatal(err)
	}
	if err := negate.Run(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	want := rangeOf(10)
	for i := range want {
		want[i] = -want[i]
	}
	if got := a.A.Slice(); !slices.Equal(got, want) {
		t.Errorf("array = %v, want %v", got, want)
	}
	if got := a.Raw.Slice(); !slices.Equal(got, []float64{1, 3}) {
		t.Errorf("raw = %v", got)
	}
	if got := string(a.B.Slice()); got != "hello childt" {
		t.Errorf("bytes = %q", got)
	}
}

// TestHammer: a writer process rewrites a whole array with one value per
// write while a reader process takes snapshots; no snapshot may mix two
// writes.
func TestHammer(t *testing.T) {
	writes := uint64(shmtest.Iterations(t, 20_000))
	seg := shmtest.Segment(t, 1<<16)
	a := hammerArgs{Writes: writes}
	var err error
	if a.A, err = array.Create[uint64](seg, "a", 512); err != nil {
		t.Fatal(err)
	}
	if a.Ready, err = value.Create[uint32](seg, "ready", 0); err != nil {
		t.Fatal(err)
	}
	if a.Done, err = value.Create[uint32](seg, "done", 0); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, err := hammerWriter.Start(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hammerReader.Start(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Wait(); err != nil {
		t.Error(err)
	}
	if err := r.Wait(); err != nil {
		t.Error(err)
	}
}

func TestWithContext(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	a, err := array.Create[int32](seg, "a", 3)
	if err != nil {
		t.Fatal(err)
	}
	l := a.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	called := false
	if err := a.WithContext(ctx, func([]int32) { called = true }); !errors.Is(err, context.DeadlineExceeded) || called {
		t.Fatalf("WithContext while the lock is held: %v, fn called %v", err, called)
	}
	l.Unlock()
	if err := a.WithContext(context.Background(), func(s []int32) { s[2] = 7 }); err != nil || a.At(2) != 7 {
		t.Fatalf("WithContext: %v, %v", err, a.Slice())
	}
}
