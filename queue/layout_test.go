package queue

import "testing"

// TestLayout checks the control block's offsets mechanically: each side's
// words on a line of its own, peer tables inside the body.
func TestLayout(t *testing.T) {
	lines := map[string]int{"config": offMaxSize, "closed": offShutdown, "notEmpty": offNotEmpty,
		"notFull": offNotFull, "lost": offLost, "join": offJoinSeq, "producers": offProducers}
	seen := map[int]string{}
	for name, off := range lines {
		if off%cacheLine != 0 {
			t.Errorf("%s at %d is not on a cache line", name, off)
		}
		if other, ok := seen[off/cacheLine]; ok {
			t.Errorf("%s shares line %d with %s", name, off/cacheLine, other)
		}
		seen[off/cacheLine] = name
	}
	if offConsumers != offProducers+8*peerSlots || offAttached != offConsumers+8*peerSlots || offTasks != offAttached+8*peerSlots || bodySize != offTasks+taskSize*peerSlots || bodySize%cacheLine != 0 {
		t.Errorf("peer tables: producers %d consumers %d body %d", offProducers, offConsumers, bodySize)
	}
	if _, err := controlAt(make([]byte, bodySize-1)); err == nil {
		t.Error("controlAt accepted a short body")
	}
}

// FuzzControl feeds garbage control blocks to controlAt and the invariant
// checker: neither may panic, whatever the bytes.
func FuzzControl(f *testing.F) {
	f.Add(make([]byte, bodySize))
	good := make([]byte, bodySize)
	writeConfig(good, 3, 64, 1000, flagJoinable, 64)
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		body := make([]byte, max(len(b), 1)+8)[8:] // 8-aligned
		copy(body, b)
		c, err := controlAt(body[:len(b)])
		if err != nil {
			return
		}
		_ = c.sane(0, 1)
		_ = c.sane(5, 4)
	})
}
