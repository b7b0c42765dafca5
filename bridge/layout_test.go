package bridge

import (
	"testing"
	"unsafe"
)

// TestLayout checks the journal's offsets against its structs
// mechanically, and that entries start on cache lines.
func TestLayout(t *testing.T) {
	var h journalHeader
	var e entryHeader
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"id", unsafe.Offsetof(h.id), offID},
		{"next", unsafe.Offsetof(h.next), offNext},
		{"owner", unsafe.Offsetof(h.owner), offOwner},
		{"entries", unsafe.Offsetof(h.entries), offEntries},
		{"payload", unsafe.Offsetof(h.payload), offPayload},
		{"state", unsafe.Offsetof(e.state), offState},
		{"length", unsafe.Offsetof(e.length), offLength},
		{"seq", unsafe.Offsetof(e.seq), offSeq},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, layout says %d", c.name, c.got, c.want)
		}
	}
	if unsafe.Sizeof(h) > headerSize || unsafe.Sizeof(e) != entryHead {
		t.Errorf("header %d bytes (room %d), entry header %d (layout %d)", unsafe.Sizeof(h), headerSize, unsafe.Sizeof(e), entryHead)
	}
	for _, p := range []int{1, 8, 48, 49, 256, 1000} {
		if n := entrySize(p); n%cacheLine != 0 || n < entryHead+p {
			t.Errorf("entrySize(%d) = %d", p, n)
		}
	}
}

// FuzzJournal feeds garbage journal bodies to journalAt: it may refuse
// them, never panic, and what it accepts stays inside the body.
func FuzzJournal(f *testing.F) {
	good := make([]byte, journalBody(4, 8))
	good[offEntries], good[offPayload] = 4, 8
	f.Add(good)
	f.Add(make([]byte, headerSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		body := make([]byte, len(b)+8)[8:] // 8-aligned
		copy(body, b)
		h, heads, payloads, err := journalAt(body[:len(b)])
		if err != nil {
			return
		}
		if len(heads) != int(h.entries) || len(payloads) != int(h.entries) {
			t.Fatalf("%d entries, %d views", h.entries, len(heads))
		}
		for _, p := range payloads {
			if len(p) != int(h.payload) {
				t.Fatalf("payload view of %d bytes, want %d", len(p), h.payload)
			}
		}
	})
}
