package ringbuf

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/shmkit/shmkit/shm"
)

// Fuzz geometry: small rings, so that the fuzzer reaches every record.
const (
	fuzzCap   = 256
	fuzzSlots = 4
	fuzzMCap  = 8
	fuzzMSlot = 16
	fuzzParts = 4
)

// alignedBytes returns n zero bytes starting on an 8-byte boundary, as a
// ring body inside a mapping does.
func alignedBytes(n int) []byte {
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(w))), n)
}

func fuzzVring(body []byte, multi, fixConfig bool) (*vring, error) {
	if fixConfig {
		le.PutUint64(body[vOffCapacity:], fuzzCap)
		le.PutUint32(body[vOffMaxRecord:], uint32(MaxRecord(fuzzCap)))
		le.PutUint32(body[vOffSlots:], fuzzSlots)
	}
	kind := shm.KindSPSC
	if multi {
		kind = shm.KindMPSC
	}
	r := new(vring)
	return r, r.init(nil, &shm.Object{Name: "fuzz", Body: body}, kind, defaultOptions())
}

// FuzzVring lays arbitrary bytes over an SPSC or MPSC ring (header, slots,
// records) and drives both sides with non-blocking calls: whatever the
// bytes, no call may panic or touch memory outside the ring; errors are fine.
func FuzzVring(f *testing.F) {
	for _, s := range vringSeeds(f) {
		f.Add(s.body, s.multi, true)
	}
	f.Add(make([]byte, 16), false, false)
	f.Fuzz(func(t *testing.T, state []byte, multi, fixConfig bool) {
		body := alignedBytes(vringBodySize(fuzzCap, fuzzSlots))
		copy(body, state)
		r, err := fuzzVring(body, multi, fixConfig)
		if err != nil {
			return
		}
		exerciseVring(r)
	})
}

func exerciseVring(r *vring) {
	_ = r.sane()
	_ = r.Len()
	for i := 0; i < 64; i++ {
		rec, ok, err := r.TryPeek()
		if !ok || err != nil {
			break
		}
		_ = append([]byte(nil), rec...)
		r.Discard()
	}
	if !r.multi {
		s := (*SPSC)(unsafe.Pointer(r)) // an SPSC is its vring
		for i := 0; i < 4; i++ {
			b, ok, err := s.TryPeekBatch()
			if !ok || err != nil {
				break
			}
			k := 0
			for rec, ok := b.Next(); ok && k <= i; rec, ok = b.Next() {
				_ = append([]byte(nil), rec...)
				k++
			}
			s.DiscardBatch()
		}
	}
	r.TryReadBatch(func(rec []byte) bool { _ = append([]byte(nil), rec...); return true })
	buf := make([]byte, fuzzCap)
	for _, n := range []int{0, 7, 100, MaxRecord(fuzzCap)} {
		if ok, err := r.TryWrite(buf[:n]); !ok || err != nil {
			break
		}
		r.TryRead(buf)
	}
	r.SetOptions(WithWriteBatch(64))
	for i := 0; i < 8; i++ {
		if ok, err := r.TryWrite(buf[:i*5]); !ok || err != nil {
			break
		}
	}
	if r.p.slot >= 0 && !r.multi {
		r.flush()
	}
	r.TryRead(buf[:3]) // short: the record stays
	r.TryReadBatch(func(rec []byte) bool { return len(rec) < 30 })
	_ = r.sane()
}

func fuzzMPMC(body []byte, fixConfig bool) (*MPMC, error) {
	if fixConfig {
		le.PutUint64(body[mOffCapacity:], fuzzMCap)
		le.PutUint32(body[mOffSlotBytes:], fuzzMSlot)
		le.PutUint32(body[mOffStride:], uint32(mpmcStride(fuzzMSlot)))
		le.PutUint32(body[mOffParts:], fuzzParts)
	}
	r := new(MPMC)
	return r, r.init(nil, &shm.Object{Name: "fuzz", Body: body}, defaultOptions())
}

// FuzzMPMC is FuzzVring for the MPMC ring: arbitrary sequence numbers,
// lengths and positions must give errors, never a panic.
func FuzzMPMC(f *testing.F) {
	for _, s := range mpmcSeeds(f) {
		f.Add(s, true)
	}
	f.Add(make([]byte, 16), false)
	f.Fuzz(func(t *testing.T, state []byte, fixConfig bool) {
		body := alignedBytes(mpmcBodySize(fuzzMCap, fuzzMSlot, fuzzParts))
		copy(body, state)
		r, err := fuzzMPMC(body, fixConfig)
		if err != nil {
			return
		}
		_ = r.sane()
		buf := make([]byte, fuzzMSlot)
		for i := 0; i < 2*fuzzMCap; i++ {
			if _, ok, err := r.TryGet(buf); !ok || err != nil {
				break
			}
		}
		for i := 0; i < 2*fuzzMCap; i++ {
			if ok, err := r.TryPut(buf[:i%fuzzMSlot]); !ok || err != nil {
				break
			}
		}
		r.TryGetBatchFunc(fuzzMCap, func([]byte) {})
		r.TryPutBatchFunc(fuzzMCap, func(i int, slot []byte) int { return i % (fuzzMSlot + 1) })
		r.rescueEmpty()
		r.rescueFull()
		_ = r.sane()
	})
}

type vringSeed struct {
	body  []byte
	multi bool
}

// vringSeeds builds well-formed rings in interesting states: empty,
// holding records, wrapped with padding, with a record in progress.
func vringSeeds(tb testing.TB) []vringSeed {
	var out []vringSeed
	for _, multi := range []bool{false, true} {
		for state := 0; state < 4; state++ {
			body := alignedBytes(vringBodySize(fuzzCap, fuzzSlots))
			r, err := fuzzVring(body, multi, true)
			if err != nil {
				tb.Fatal(err)
			}
			msg := make([]byte, 40)
			for i := 0; i < state*3; i++ {
				msg[0] = byte(i)
				r.TryWrite(msg[:i*7%41])
				if i%2 == 1 {
					r.TryRead(msg)
				}
			}
			if state == 3 {
				r.TryReserve(20) // left in progress
			}
			out = append(out, vringSeed{append([]byte(nil), body...), multi})
		}
	}
	return out
}

func mpmcSeeds(tb testing.TB) [][]byte {
	var out [][]byte
	for state := 0; state < 3; state++ {
		body := alignedBytes(mpmcBodySize(fuzzMCap, fuzzMSlot, fuzzParts))
		r, err := fuzzMPMC(body, true)
		if err != nil {
			tb.Fatal(err)
		}
		// Cells start free for their own position, as NewMPMC lays them out.
		for i := 0; i < fuzzMCap; i++ {
			r.seq(uint64(i)).Store(uint64(i))
		}
		buf := make([]byte, fuzzMSlot)
		for i := 0; i < state*5; i++ {
			r.TryPut(buf[:i%fuzzMSlot])
			if i%3 == 0 {
				r.TryGet(buf)
			}
		}
		out = append(out, append([]byte(nil), body...))
	}
	return out
}

// TestWriteFuzzCorpus rewrites testdata/fuzz from the seeds above when
// RINGBUF_WRITE_CORPUS is set; the files are checked in.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("RINGBUF_WRITE_CORPUS") == "" {
		t.Skip("set RINGBUF_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	write := func(target, name, content string) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n"+content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range vringSeeds(t) {
		write("FuzzVring", fmt.Sprintf("seed-%02d", i), fmt.Sprintf("[]byte(%q)\nbool(%v)\nbool(true)\n", s.body, s.multi))
	}
	for i, s := range mpmcSeeds(t) {
		write("FuzzMPMC", fmt.Sprintf("seed-%02d", i), fmt.Sprintf("[]byte(%q)\nbool(true)\n", s))
	}
}
