package ringbuf

import (
	"testing"
	"unsafe"
)

// The layouts are offsets into shared memory, not Go structs; these mirror
// structs spell them out field by field so that unsafe.Offsetof and
// unsafe.Sizeof check the constants mechanically.

type vringHeaderMirror struct {
	Capacity      uint64
	MaxRecord     uint32
	Slots         uint32
	_             [cacheLine - 16]byte
	Tail          uint64
	_             [cacheLine - 8]byte
	Head          uint64
	_             [cacheLine - 8]byte
	DataSeq       uint32
	DataWaiters   uint32
	DataParked    uint32
	_             [cacheLine - 12]byte
	SpaceSeq      uint32
	SpaceWaiters  uint32
	SpaceParked   uint32
	_             [cacheLine - 12]byte
	Consumer      uint64
	ConsumerEver  uint32
	ProducersEver uint32
	ZeroEnd       uint64
	ConsumerSeq   uint32
	Shared        uint32
	_             [cacheLine - 32]byte
}

type slotMirror struct {
	Owner    uint64
	Gen      uint32
	Role     uint32
	ClaimPos uint64 // MPMC: enqClaim
	ClaimEnd uint64 // MPMC: deqClaim
	RunEnd   uint64 // MPMC: enqClaimEnd
	DeqEnd   uint64 // MPMC: deqClaimEnd
	_        [cacheLine - 48]byte
}

type mpmcHeaderMirror struct {
	Capacity      uint64
	SlotBytes     uint32
	Stride        uint32
	Parts         uint32
	_             [cacheLine - 20]byte
	Enqueue       uint64
	EnqSole       uint64
	_             [cacheLine - 16]byte
	Dequeue       uint64
	DeqSole       uint64
	_             [cacheLine - 16]byte
	DataSeq       uint32
	DataWaiters   uint32
	DataParked    uint32
	_             [cacheLine - 12]byte
	SpaceSeq      uint32
	SpaceWaiters  uint32
	SpaceParked   uint32
	_             [cacheLine - 12]byte
	ProducersEver uint32
	ConsumersEver uint32
	_             [cacheLine - 8]byte
}

type mpmcSlotMirror struct {
	Seq    uint64
	Length uint32
	_      uint32
}

func TestLayoutOffsets(t *testing.T) {
	var v vringHeaderMirror
	var s slotMirror
	var m mpmcHeaderMirror
	var c mpmcSlotMirror
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"vring capacity", unsafe.Offsetof(v.Capacity), vOffCapacity},
		{"vring maxRecord", unsafe.Offsetof(v.MaxRecord), vOffMaxRecord},
		{"vring slots", unsafe.Offsetof(v.Slots), vOffSlots},
		{"vring tail", unsafe.Offsetof(v.Tail), vOffTail},
		{"vring head", unsafe.Offsetof(v.Head), vOffHead},
		{"vring dataSeq", unsafe.Offsetof(v.DataSeq), vOffDataSeq},
		{"vring dataWaiters", unsafe.Offsetof(v.DataWaiters), vOffDataWaiters},
		{"vring dataParked", unsafe.Offsetof(v.DataParked), vOffDataParked},
		{"vring spaceSeq", unsafe.Offsetof(v.SpaceSeq), vOffSpaceSeq},
		{"vring spaceWaiters", unsafe.Offsetof(v.SpaceWaiters), vOffSpaceWaiters},
		{"vring spaceParked", unsafe.Offsetof(v.SpaceParked), vOffSpaceParked},
		{"vring consumer", unsafe.Offsetof(v.Consumer), vOffConsumer},
		{"vring consumerEver", unsafe.Offsetof(v.ConsumerEver), vOffConsumerEver},
		{"vring producersEver", unsafe.Offsetof(v.ProducersEver), vOffProducersEver},
		{"vring zeroEnd", unsafe.Offsetof(v.ZeroEnd), vOffZeroEnd},
		{"vring consumerSeq", unsafe.Offsetof(v.ConsumerSeq), vOffConsumerSeq},
		{"vring shared", unsafe.Offsetof(v.Shared), vOffShared},
		{"vring header size", unsafe.Sizeof(v), vOffSlots0},
		{"slot owner", unsafe.Offsetof(s.Owner), slotOffOwner},
		{"slot gen", unsafe.Offsetof(s.Gen), slotOffGen},
		{"slot role", unsafe.Offsetof(s.Role), partOffRole},
		{"slot claimPos", unsafe.Offsetof(s.ClaimPos), slotOffClaimPos},
		{"slot claimEnd", unsafe.Offsetof(s.ClaimEnd), slotOffClaimEnd},
		{"slot enqClaim", unsafe.Offsetof(s.ClaimPos), partOffEnqClaim},
		{"slot deqClaim", unsafe.Offsetof(s.ClaimEnd), partOffDeqClaim},
		{"slot enqClaimEnd", unsafe.Offsetof(s.RunEnd), partOffEnqClaimEnd},
		{"slot deqClaimEnd", unsafe.Offsetof(s.DeqEnd), partOffDeqClaimEnd},
		{"slot size", unsafe.Sizeof(s), slotSize},
		{"mpmc capacity", unsafe.Offsetof(m.Capacity), mOffCapacity},
		{"mpmc slotBytes", unsafe.Offsetof(m.SlotBytes), mOffSlotBytes},
		{"mpmc stride", unsafe.Offsetof(m.Stride), mOffStride},
		{"mpmc parts", unsafe.Offsetof(m.Parts), mOffParts},
		{"mpmc enqueue", unsafe.Offsetof(m.Enqueue), mOffEnqueue},
		{"mpmc dequeue", unsafe.Offsetof(m.Dequeue), mOffDequeue},
		{"mpmc enqSole", unsafe.Offsetof(m.EnqSole), mOffEnqSole},
		{"mpmc deqSole", unsafe.Offsetof(m.DeqSole), mOffDeqSole},
		{"mpmc dataSeq", unsafe.Offsetof(m.DataSeq), mOffDataSeq},
		{"mpmc dataWaiters", unsafe.Offsetof(m.DataWaiters), mOffDataWaiters},
		{"mpmc dataParked", unsafe.Offsetof(m.DataParked), mOffDataParked},
		{"mpmc spaceSeq", unsafe.Offsetof(m.SpaceSeq), mOffSpaceSeq},
		{"mpmc spaceWaiters", unsafe.Offsetof(m.SpaceWaiters), mOffSpaceWaiters},
		{"mpmc spaceParked", unsafe.Offsetof(m.SpaceParked), mOffSpaceParked},
		{"mpmc producersEver", unsafe.Offsetof(m.ProducersEver), mOffProducersEver},
		{"mpmc consumersEver", unsafe.Offsetof(m.ConsumersEver), mOffConsumersEver},
		{"mpmc header size", unsafe.Sizeof(m), mOffParts0},
		{"mpmc slot seq", unsafe.Offsetof(c.Seq), mSlotOffSeq},
		{"mpmc slot length", unsafe.Offsetof(c.Length), mSlotOffLen},
		{"mpmc slot header", unsafe.Sizeof(c), mSlotHeader},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: offset %d, constant says %d", c.name, c.got, c.want)
		}
	}
}

// TestLayoutLines checks that words written by different sides sit on
// different cache lines, and that every line-starting offset is a multiple
// of the cache line.
func TestLayoutLines(t *testing.T) {
	line := func(off int) int { return off / cacheLine }
	groups := map[string]int{
		"config": line(vOffCapacity), "tail": line(vOffTail), "head": line(vOffHead),
		"data futex": line(vOffDataSeq), "space futex": line(vOffSpaceSeq), "consumer": line(vOffConsumer),
	}
	seen := map[int]string{}
	for name, l := range groups {
		if other, dup := seen[l]; dup {
			t.Errorf("%s and %s share cache line %d", name, other, l)
		}
		seen[l] = name
	}
	for _, off := range []int{vOffTail, vOffHead, vOffDataSeq, vOffSpaceSeq, vOffConsumer, vOffSlots0,
		mOffEnqueue, mOffDequeue, mOffDataSeq, mOffSpaceSeq, mOffProducersEver, mOffParts0, slotSize} {
		if off%cacheLine != 0 {
			t.Errorf("offset %d is not on a cache line", off)
		}
	}
	if line(mOffEnqueue) == line(mOffDequeue) {
		t.Error("enqueue and dequeue share a cache line")
	}
	if vringBodySize(1024, 4)%cacheLine != 0 || (vOffSlots0+4*slotSize)%cacheLine != 0 {
		t.Error("data area not cache-line aligned")
	}
}

func TestRecordHeader(t *testing.T) {
	for _, c := range []struct {
		length int32
		slot   int
		typ    uint8
		gen    uint16
	}{{8, 0, recMessage, 0}, {-1 << 30, 254, recPadding, 65535}, {12345, 7, recMessage, 300}} {
		l, s, ty, g := splitHeader(makeHeader(c.length, c.slot, c.typ, c.gen))
		if l != c.length || s != c.slot || ty != c.typ || g != c.gen {
			t.Errorf("round trip of %+v gave %d %d %d %d", c, l, s, ty, g)
		}
	}
	if MaxRecord(MinCapacity) < 0 || MaxRecord(MaxCapacity) != 1<<29-8 {
		t.Errorf("MaxRecord: %d %d", MaxRecord(MinCapacity), MaxRecord(MaxCapacity))
	}
}
