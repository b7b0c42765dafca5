package semaphore

import (
	"bytes"
	"encoding/gob"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
)

// TestMutexHandlesCarryHolder: every way a Mutex handle is made carries
// this process's holder field and procinfo word, which Lock, TryLock and
// Unlock read from the handle. A handle with a zero holder would "take" a
// free lock with CAS(0, 0) and lock nothing; a closed handle must panic
// rather than do so.
func TestMutexHandlesCarryHolder(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	holder, word := self()
	if holder == 0 || word == 0 {
		t.Fatalf("self() = %#x, %#x", holder, word)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	roundTrip := func(enc, dec any) {
		t.Helper()
		var b bytes.Buffer
		must(gob.NewEncoder(&b).Encode(enc))
		must(gob.NewDecoder(&b).Decode(dec))
	}
	handles := map[string]*Mutex{}
	var err error
	handles["NewMutex"], err = NewMutex()
	must(err)
	handles["CreateMutex"], err = CreateMutex(seg, "m")
	must(err)
	handles["OpenMutex"], err = OpenMutex(seg, "m")
	must(err)
	mem := make([]byte, MutexSize+8)
	handles["InitMutex"], err = InitMutex(mem[:MutexSize])
	must(err)
	handles["MutexAt"], err = MutexAt(mem[:MutexSize])
	must(err)
	var dm Mutex
	roundTrip(handles["CreateMutex"], &dm)
	handles["decoded Mutex"] = &dm
	c, err := NewCond()
	must(err)
	handles["NewCond's L"] = c.L
	cc, err := CreateCond(seg, "cc")
	must(err)
	var dc Cond
	roundTrip(cc, &dc)
	handles["decoded Cond's L"] = dc.L
	cf, err := CreateCondFor(seg, "cf", handles["CreateMutex"])
	must(err)
	var dcf Cond
	roundTrip(cf, &dcf)
	handles["decoded CreateCondFor's L"] = dcf.L
	oc, err := OpenCond(seg, "cf")
	must(err)
	handles["OpenCond's L"] = oc.L
	rw, err := CreateRWMutex(seg, "rw")
	must(err)
	handles["RWMutex writer"] = rw.w
	var drw RWMutex
	roundTrip(rw, &drw)
	handles["decoded RWMutex writer"] = drw.w
	b, err := CreateBarrier(seg, "b", 2)
	must(err)
	handles["Barrier lock"] = b.lock
	var db Barrier
	roundTrip(b, &db)
	handles["decoded Barrier lock"] = db.lock
	for name, m := range handles {
		if m.holder != holder || m.word != word {
			t.Errorf("%s: handle's holder, word = %#x, %#x; want self()'s %#x, %#x", name, m.holder, m.word, holder, word)
			continue
		}
		if ok, err := m.TryLock(); !ok || err != nil {
			t.Errorf("%s: TryLock of a free lock = %v, %v", name, ok, err)
			continue
		}
		if v := m.state.Load(); v != holder {
			t.Errorf("%s: locked word %#x, want %#x", name, v, holder)
		}
		m.Unlock()
	}
	closed := handles["NewMutex"]
	must(closed.Close())
	for what, call := range map[string]func(){
		"Lock": closed.Lock, "Unlock": closed.Unlock,
		"TryLock": func() { closed.TryLock() },
	} {
		func() {
			defer func() { recover() }()
			call()
			t.Errorf("%s on a closed Mutex did not panic", what)
		}()
	}
	for _, x := range []interface{ Close() error }{&dm, c, &dc, &dcf, &drw, &db} {
		must(x.Close())
	}
}
