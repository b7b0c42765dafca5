package shm_test

import (
	"errors"
	"testing"

	"github.com/shmkit/shmkit/shm"
)

// FuzzDecodeHeader feeds arbitrary bytes and file sizes to the segment
// header decoder: it must never panic, must refuse with ErrCorrupt or
// ErrIncompatible, and whatever it accepts must describe a layout whose
// every region lies inside the file.
func FuzzDecodeHeader(f *testing.F) {
	good := make([]byte, shm.HeaderSize)
	shm.EncodeHeader(good, 16384, 8192, 64)
	f.Add(good, int64(16384))
	f.Add(good, int64(4096))    // truncated file
	f.Add(good[:64], int64(64)) // short header
	f.Add([]byte("SHMKITSG"), int64(-1))
	f.Fuzz(func(t *testing.T, b []byte, fileSize int64) {
		size, dataOff, dirCap, err := shm.DecodeHeader(b, fileSize)
		if err != nil {
			if !errors.Is(err, shm.ErrCorrupt) && !errors.Is(err, shm.ErrIncompatible) {
				t.Fatalf("error matches neither ErrCorrupt nor ErrIncompatible: %v", err)
			}
			return
		}
		if fileSize >= 0 && size != uint64(fileSize) {
			t.Fatalf("accepted size %d for a file of %d bytes", size, fileSize)
		}
		if dirCap == 0 || dataOff < uint64(shm.DirOff)+uint64(dirCap)*shm.DirEntrySize || dataOff > size || dataOff%shm.CacheLine != 0 {
			t.Fatalf("accepted a layout out of bounds: size %d, data offset %d, %d entries", size, dataOff, dirCap)
		}
	})
}
