package shm_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmkit/shmkit/atomics"
	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

type allocArgs struct {
	Seg    *shm.Segment
	Prefix string
	N      int
}

// Start gate for the allocators: an object holding two words, each on its
// own cache line. The child counts itself ready; the parent opens the gate.
const (
	gateReady = 0
	gateGo    = shm.CacheLine
	gateSize  = 2 * shm.CacheLine
)

// allocator makes N objects named PREFIX-i once the gate opens, each body
// filled with a pattern derived from its name.
var allocator = process.Register("shm-test-allocator", func(ctx context.Context, a allocArgs) error {
	defer a.Seg.Close()
	gate, err := a.Seg.Lookup("gate", nil)
	if err != nil {
		return err
	}
	ready := atomics.MustUint32At(gate.Body, gateReady)
	open := atomics.MustUint32At(gate.Body, gateGo)
	ready.Add(1) // publishes: this allocator waits at the gate
	atomics.Wake(ready, -1)
	for open.Load() == 0 { // observes: the gate is open
		if err := atomics.Await(ctx, open, 0, nil); err != nil {
			return err
		}
	}
	return allocMany(a.Seg, a.Prefix, a.N)
})

func allocMany(s *shm.Segment, prefix string, n int) error {
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("%s-%d", prefix, i)
		size := 8 + (i%5)*24 // bodies of several sizes, so objects do not all align alike
		if _, err := s.Alloc(name, shm.ObjectSpec{Kind: shm.KindBytes, BodySize: size}, func(body []byte) error {
			fill(body, name)
			return nil
		}); err != nil {
			return fmt.Errorf("Alloc %s: %w", name, err)
		}
	}
	return nil
}

func fill(body []byte, name string) {
	var seed uint64
	for _, c := range []byte(name) {
		seed = seed*131 + uint64(c)
	}
	for i := 0; i+8 <= len(body); i += 8 {
		binary.LittleEndian.PutUint64(body[i:], seed+uint64(i))
	}
}

// TestConcurrentAlloc has two processes (and two goroutines in the parent)
// allocate in one directory at once: no entry may be lost or duplicated, no
// two objects may overlap, and every body must still hold what its
// allocator wrote.
func TestConcurrentAlloc(t *testing.T) {
	n := min(shmtest.Iterations(t, 400), 16000) // objects per allocator; four allocators fill at most 64001 entries
	s := shmtest.Segment(t, int64(4*n*(shm.ObjectHeaderSize+128)), shm.WithDirCap(4*n+1))
	gate, err := s.Alloc("gate", shm.ObjectSpec{BodySize: gateSize}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ready := atomics.MustUint32At(gate.Body, gateReady)
	open := atomics.MustUint32At(gate.Body, gateGo)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var procs []*process.Process
	for _, prefix := range []string{"a", "b"} {
		p, err := allocator.Start(ctx, allocArgs{Seg: s, Prefix: prefix, N: n})
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	for v := ready.Load(); v < 2; v = ready.Load() { // observes: both children wait at the gate
		if err := atomics.Await(ctx, ready, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	open.Store(1) // publishes: allocate now
	atomics.Wake(open, -1)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for _, prefix := range []string{"p", "q"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- allocMany(s, prefix, n)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range procs {
		if err := p.Wait(); err != nil {
			t.Fatal(err)
		}
	}

	objs := s.Objects()
	if len(objs) != 4*n+1 {
		t.Fatalf("%d directory entries, want %d", len(objs), 4*n+1)
	}
	seen := map[string]bool{}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Offset < objs[j].Offset })
	for i, o := range objs {
		if o.Err != nil {
			t.Fatalf("entry %s: %v", o.Name, o.Err)
		}
		if seen[o.Name] {
			t.Fatalf("object %s listed twice", o.Name)
		}
		seen[o.Name] = true
		if o.Offset%shm.CacheLine != 0 {
			t.Fatalf("object %s at %d, not cache-line aligned", o.Name, o.Offset)
		}
		if i > 0 && objs[i-1].Offset+objs[i-1].Size > o.Offset {
			t.Fatalf("objects %s [%d,+%d) and %s [%d,+%d) overlap", objs[i-1].Name, objs[i-1].Offset, objs[i-1].Size, o.Name, o.Offset, o.Size)
		}
		if o.Name == "gate" {
			continue
		}
		got, err := s.Lookup(o.Name, &shm.ObjectSpec{Kind: shm.KindBytes})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, len(got.Body))
		fill(want, o.Name)
		if string(want) != string(got.Body) {
			t.Fatalf("object %s does not hold what its allocator wrote", o.Name)
		}
	}
	for _, prefix := range []string{"a", "b", "p", "q"} {
		for i := 0; i < n; i++ {
			if name := fmt.Sprintf("%s-%d", prefix, i); !seen[name] {
				t.Fatalf("object %s lost", name)
			}
		}
	}
}

func TestLookupMismatch(t *testing.T) {
	s := shmtest.Segment(t, 4096)
	typ := shm.TypeID{Size: 8, Align: 8, Hash: 0x1234}
	spec := shm.ObjectSpec{Kind: shm.KindValue, Version: 1, Type: typ, Capacity: 1, BodySize: 8}
	if _, err := s.Alloc("v", spec, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup("v", &spec); err != nil {
		t.Fatalf("Lookup with the same spec: %v", err)
	}
	other := spec
	other.Capacity, other.BodySize = 99, 99 // not compared: the existing object's count
	if _, err := s.Lookup("v", &other); err != nil {
		t.Fatalf("Lookup with another capacity: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*shm.ObjectSpec)
		says   string
	}{
		{"kind", func(o *shm.ObjectSpec) { o.Kind = shm.KindArray }, "not a array"},
		{"version", func(o *shm.ObjectSpec) { o.Version = 2 }, "layout version 1"},
		{"type-size", func(o *shm.ObjectSpec) { o.Type.Size = 4 }, "element type"},
		{"type-hash", func(o *shm.ObjectSpec) { o.Type.Hash++ }, "element type"},
	} {
		o := spec
		tc.change(&o)
		_, err := s.Lookup("v", &o)
		if !errors.Is(err, shm.ErrIncompatible) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: Lookup = %v, want ErrIncompatible saying %q", tc.name, err, tc.says)
		}
	}
	if _, err := s.Lookup("missing", nil); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("Lookup of a missing object = %v, want ErrNotExist", err)
	}
	if _, err := s.Alloc("v", spec, nil); !errors.Is(err, shm.ErrExist) {
		t.Errorf("second Alloc = %v, want ErrExist", err)
	}
	initErr := errors.New("init refused")
	if _, err := s.Alloc("refused", spec, func([]byte) error { return initErr }); !errors.Is(err, initErr) {
		t.Errorf("Alloc with a failing init = %v", err)
	}
	if _, err := s.Lookup("refused", nil); !errors.Is(err, shm.ErrNotExist) {
		t.Errorf("an object whose init failed was published: %v", err)
	}
}

func TestAllocFull(t *testing.T) {
	s := shmtest.Segment(t, 4096, shm.WithDirCap(2))
	if _, err := s.Alloc("big", shm.ObjectSpec{BodySize: int(s.Size())}, nil); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("Alloc larger than the area = %v, want ErrNoSpace", err)
	}
	// Sizes whose end overflows an int64 (it panicked, slicing the mapping
	// with a negative end).
	for _, n := range []int{math.MaxInt, math.MaxInt - 100, math.MaxInt - 1<<20} {
		if _, err := s.Alloc("huge", shm.ObjectSpec{BodySize: n}, nil); !errors.Is(err, shm.ErrNoSpace) {
			t.Fatalf("Alloc of a %d-byte body = %v, want ErrNoSpace", n, err)
		}
	}
	for _, name := range []string{"one", "two"} {
		if _, err := s.Alloc(name, shm.ObjectSpec{BodySize: 64}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Alloc("three", shm.ObjectSpec{BodySize: 64}, nil); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("Alloc past the directory's capacity = %v, want ErrNoSpace", err)
	}
	if got := s.Info().Objects; got != 2 {
		t.Fatalf("Info().Objects = %d, want 2", got)
	}
	s.Close()
	if _, err := s.Alloc("late", shm.ObjectSpec{}, nil); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Alloc after Close = %v, want ErrClosed", err)
	}
	if _, err := s.Lookup("one", nil); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("Lookup after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestClosedSegment: Info, Objects and Bytes of a closed Segment say so, as
// Lookup and Alloc do (ErrClosed), without touching the mapping. Info and
// Objects panicked (index out of range on the unmapped slice), and a
// Segment of Attach keeps the slice of a mapping that the last Close
// unmapped: checking the slice would not do.
func TestClosedSegment(t *testing.T) {
	s := shmtest.Segment(t, 4096)
	if _, err := s.Alloc("one", shm.ObjectSpec{BodySize: 8}, nil); err != nil {
		t.Fatal(err)
	}
	h, err := s.Handle()
	if err != nil {
		t.Fatal(err)
	}
	a, err := shm.Attach(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil { // the last of h's: unmapped
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		how string
		seg *shm.Segment
	}{{"created", s}, {"attached", a}} {
		in := c.seg.Info()
		if !errors.Is(in.Err, shm.ErrClosed) || in.Objects != 0 || in.Name != s.Name() || in.DataSize != s.Size() {
			t.Errorf("%s: Info after Close = %+v, want the header with Err ErrClosed and no objects", c.how, in)
		}
		if objs := c.seg.Objects(); len(objs) != 0 {
			t.Errorf("%s: Objects after Close = %+v, want none", c.how, objs)
		}
		if b := c.seg.Bytes(); b != nil {
			t.Errorf("%s: Bytes after Close = %d bytes, want nil", c.how, len(b))
		}
	}
}

// TestCanAlloc: CanAlloc says whether Alloc would place every one of a
// group of objects, in order: a name taken in the segment or given twice
// is ErrExist, a directory without an entry for each or an object area
// without room for them all is ErrNoSpace, and it places nothing either
// way. Where it says yes, the Allocs succeed.
func TestCanAlloc(t *testing.T) {
	s := shmtest.Segment(t, 1<<20, shm.WithDirCap(3))
	p := func(name string, body int) shm.Placement { return shm.Placement{Name: name, BodySize: body} }
	if err := s.CanAlloc(p("a", 64), p("b", 64), p("c", 64)); err != nil {
		t.Fatalf("CanAlloc on an empty directory of 3: %v", err)
	}
	if err := s.CanAlloc(p("a", 64), p("b", 64), p("c", 64), p("d", 64)); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("CanAlloc of 4 objects in a directory of 3 = %v, want ErrNoSpace", err)
	}
	if err := s.CanAlloc(p("a", 64), p("a", 64)); !errors.Is(err, shm.ErrExist) {
		t.Fatalf("CanAlloc of one name twice = %v, want ErrExist", err)
	}
	if _, err := s.Alloc("b", shm.ObjectSpec{BodySize: 64}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CanAlloc(p("a", 64), p("b", 64)); !errors.Is(err, shm.ErrExist) || !strings.Contains(err.Error(), `"b"`) {
		t.Fatalf("CanAlloc with b taken = %v, want ErrExist naming b", err)
	}
	if err := s.CanAlloc(p("a", 64), p("c", 64), p("d", 64)); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("CanAlloc of 3 objects with 2 entries left = %v, want ErrNoSpace", err)
	}
	if err := s.CanAlloc(p("a", 64), p("", 64)); !errors.Is(err, shm.ErrInvalidName) {
		t.Fatalf("CanAlloc of an empty name = %v, want ErrInvalidName", err)
	}
	// Room: the two objects fill the area to the byte, as Alloc places
	// them (each on a line, after its header); a byte more does not fit.
	in := s.Info()
	used := int64(0)
	for _, o := range s.Objects() {
		used = max(used, o.Offset+o.Size)
	}
	first := 1000                                                          // ends mid-line: the second starts on the next line
	second := int(in.Size - (used+63)&^63 - 2*shm.ObjectHeaderSize - 1024) // 1000 and its header, rounded up to a line
	if err := s.CanAlloc(p("a", first), p("c", second+1)); !errors.Is(err, shm.ErrNoSpace) {
		t.Fatalf("CanAlloc a byte past the area = %v, want ErrNoSpace", err)
	}
	if err := s.CanAlloc(p("a", first), p("c", second)); err != nil {
		t.Fatalf("CanAlloc of objects that fill the area: %v", err)
	}
	if got := s.Info().Objects; got != 1 {
		t.Fatalf("the directory holds %d objects, want the 1 placed: CanAlloc placed some", got)
	}
	for _, o := range []shm.Placement{p("a", first), p("c", second)} {
		if _, err := s.Alloc(o.Name, shm.ObjectSpec{BodySize: o.BodySize}, nil); err != nil {
			t.Fatalf("Alloc of %q after CanAlloc said yes: %v", o.Name, err)
		}
	}
	s.Close()
	if err := s.CanAlloc(p("z", 0)); !errors.Is(err, shm.ErrClosed) {
		t.Fatalf("CanAlloc after Close = %v, want ErrClosed", err)
	}
}
