package manager

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"testing"
)

type name string

// checkOrder encodes keys (given in ascending order) and checks that their
// encodings sort the same way and decode back.
func checkOrder[K cmp.Ordered](t *testing.T, keys ...K) {
	t.Helper()
	kind := kindOfKey[K]()
	var encs [][]byte
	for _, k := range keys {
		b := appendKey(nil, kind, k)
		back, err := decodeKey[K](kind, b)
		if err != nil || back != k {
			t.Fatalf("%v decoded as %v, %v", k, back, err)
		}
		encs = append(encs, b)
	}
	if !slices.IsSortedFunc(encs, bytes.Compare) {
		t.Fatalf("encodings of %v are not in order", keys)
	}
}

func TestKeyOrder(t *testing.T) {
	checkOrder(t, math.MinInt64, -300, -1, 0, 1, 255, math.MaxInt64)
	checkOrder[int8](t, -128, -1, 0, 127)
	checkOrder[uint16](t, 0, 1, 256, 65535)
	checkOrder(t, math.Inf(-1), -2.5, -1e-300, 0, 1e-300, 3, math.Inf(1))
	checkOrder[float32](t, -1.5, 0, 2.25)
	checkOrder[name](t, "", "a", "ab", "b")
}

func TestValueRoundTrip(t *testing.T) {
	vc := newValueCodec[int16]()
	b, _ := vc.appendValue(nil, new(int16(-7)))
	var v int16
	if err := vc.decodeValue(b, &v); err != nil || v != -7 {
		t.Fatalf("int16: %v %v", v, err)
	}
	sum, err := addNumbers(b, true, b, 2)
	if err != nil || vc.decodeValue(sum, &v) != nil || v != -14 {
		t.Fatalf("add: %v %v", v, err)
	}
	if _, err := addNumbers([]byte{tagFloat, 0, 0, 0, 0, 0, 0, 0, 0}, true, b, 2); err == nil {
		t.Fatal("an int added to a float")
	}
	if err := newValueCodec[string]().decodeValue(b, new(string)); err == nil {
		t.Fatal("an int decoded as a string")
	}
}

// FuzzHandle feeds the server garbage requests (they arrive from shared
// memory another process writes): never a panic, always a reply.
func FuzzHandle(f *testing.F) {
	f.Add([]byte{byte(opNew), 0, kindDict, 0})
	f.Add([]byte{byte(opDictSet), 1, 1, 'k', 2, tagCodec, 'v'})
	f.Add([]byte{byte(opDictPage), 1, 7, 1, 'a', 1, 'z', 0, 10})
	f.Add([]byte{byte(opListSlice), 2, 0, 20, 5})
	f.Add([]byte{byte(opDictSetMany), 1, 0xff, 0xff, 3})
	f.Fuzz(func(t *testing.T, req []byte) {
		s := newStore(1<<12, 1<<12)
		s.handle([]byte{byte(opNew), 0, kindDict, 0}, nil)
		s.handle([]byte{byte(opNew), 0, kindList, 0}, nil)
		s.handle([]byte{byte(opDictSet), 1, 1, 'a', 2, tagInt, 1}, nil)
		s.handle([]byte{byte(opListAppend), 2, 1, tagCodec}, nil)
		if len(s.handle(req, nil)) == 0 {
			t.Fatal("empty reply")
		}
		r := rbuf{b: s.handle(req, nil)}
		_ = replyError(&r)
	})
}
