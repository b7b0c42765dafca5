package cell

import (
	"errors"
	"testing"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// body mirrors the layout's fixed part, so that the compiler's offsets can
// be checked against the constants.
type body struct {
	seq   uint64
	flags uint32
	_     [52]byte
	lock  [LockSize]byte
	data  [1]uint64
}

func TestLayoutOffsets(t *testing.T) {
	var b body
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"seq", unsafe.Offsetof(b.seq), OffSeq},
		{"flags", unsafe.Offsetof(b.flags), OffFlags},
		{"lock", unsafe.Offsetof(b.lock), OffLock},
		{"data", unsafe.Offsetof(b.data), OffData},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, constant says %d", c.name, c.got, c.want)
		}
	}
	if OffLock%cacheLine != 0 || OffData%cacheLine != 0 || LockSize%cacheLine != 0 {
		t.Error("lock and data must start cache lines")
	}
	if n, _ := bodySize(3, 8); n != OffData+24 {
		t.Errorf("bodySize(3, 8) = %d", n)
	}
	if _, err := bodySize(1<<62, 8); !errors.Is(err, shm.ErrNoSpace) {
		t.Errorf("bodySize overflow: %v", err)
	}
}

func TestValidate(t *testing.T) {
	h := shm.ObjectHeader{Capacity: 4, Type: shm.TypeID{Size: 8, Align: 8}}
	good := make([]byte, OffData+32)
	if err := Validate(h, good); err != nil {
		t.Fatal(err)
	}
	if err := Validate(h, good[:OffData+31]); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("short body: %v", err)
	}
	bad := append([]byte(nil), good...)
	bad[OffFlags] = 0x80
	if err := Validate(h, bad); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("unknown flags: %v", err)
	}
	h.Capacity = 1 << 63
	if err := Validate(h, good); !errors.Is(err, shm.ErrCorrupt) {
		t.Errorf("huge capacity: %v", err)
	}
}

func TestSliceChecks(t *testing.T) {
	b := make([]uint64, 4)
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), 32)
	if _, err := Slice[uint64](mem[1:], 1); err == nil {
		t.Error("misaligned Slice accepted")
	}
	if _, err := Slice[uint64](mem, 5); err == nil {
		t.Error("Slice past the end accepted")
	}
	s, err := Slice[uint32](mem[4:], 7)
	if err != nil || len(s) != 7 {
		t.Fatalf("Slice: %v", err)
	}
	if Bits(int32(-1)) != 0xffffffff || FromBits[int32](0xffffffff) != -1 || FromBits[float64](Bits(2.5)) != 2.5 {
		t.Error("Bits/FromBits do not round-trip")
	}
}

// TestOddSeqRepaired: a sequence left odd with the lock free (a broken
// peer) is made even by the next locker, so readers do not wait for ever.
func TestOddSeqRepaired(t *testing.T) {
	seg, err := shm.CreateAnon(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	c, err := Create(seg, "c", Spec{Kind: shm.KindValue, Type: shm.TypeID{Size: 8, Align: 8}}, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.seq.Store(7)
	done := make(chan uint64)
	go func() {
		var x, p uint64
		LoadInto(c, &x, &p)
		done <- c.seq.Load()
	}()
	if s := <-done; s != 8 {
		t.Fatalf("seq %d after a reader repaired it, want 8", s)
	}
}
