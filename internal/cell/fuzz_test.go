package cell

import (
	"testing"

	"github.com/shmkit/shmkit/shm"
)

// FuzzValidate feeds Validate headers and bodies as a hostile or crashed
// peer might leave them: it must never panic, and a body it accepts must
// hold every element its header announces.
func FuzzValidate(f *testing.F) {
	f.Add(uint64(1), uint32(8), make([]byte, OffData+8))
	f.Add(uint64(4), uint32(4), make([]byte, OffData+15))
	f.Add(uint64(1<<62), uint32(1<<31), make([]byte, OffData))
	f.Add(uint64(0), uint32(0), []byte{})
	f.Fuzz(func(t *testing.T, capacity uint64, size uint32, body []byte) {
		h := shm.ObjectHeader{Capacity: capacity, Type: shm.TypeID{Size: size, Align: 8}}
		if Validate(h, body) != nil {
			return
		}
		if need := uint64(OffData) + capacity*uint64(size); uint64(len(body)) < need || capacity > uint64(len(body)) && size != 0 {
			t.Fatalf("accepted %d elements of %d bytes in a body of %d", capacity, size, len(body))
		}
	})
}
