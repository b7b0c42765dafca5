package arena

import (
	"testing"
	"unsafe"
)

// TestLayout checks the offset constants against the record type and the
// cache-line rule.
func TestLayout(t *testing.T) {
	var r record
	if unsafe.Sizeof(r) != recordSize || unsafe.Offsetof(r.Owner) != recOwner || unsafe.Offsetof(r.Gen) != recGen ||
		unsafe.Offsetof(r.Start) != recStart || unsafe.Offsetof(r.Pages) != recPages {
		t.Fatalf("record: size %d, offsets %d %d %d %d", unsafe.Sizeof(r), unsafe.Offsetof(r.Owner), unsafe.Offsetof(r.Gen), unsafe.Offsetof(r.Start), unsafe.Offsetof(r.Pages))
	}
	if offLock%cacheLine != 0 || offUsed%cacheLine != 0 || offRecords0%cacheLine != 0 || offLock == offUsed {
		t.Fatal("the lock, the counters and the records must sit on lines of their own")
	}
	if metaSize(64, 8) != offRecords0+8*recordSize+2*8 {
		t.Fatalf("metaSize(64, 8) = %d", metaSize(64, 8))
	}
}
