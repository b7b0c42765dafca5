package manager

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
)

// A server's replies are read in place, in shared memory that the server's
// process writes: a reply that is corrupt (or a server that is buggy) must
// give ErrBadReply, never a loop without end or an allocation sized by a
// count it made up. These tests answer a proxy's requests with made-up
// replies, through a transport of their own.

// fakeTransport answers every request with reply(req), and counts them.
type fakeTransport struct {
	reply func(req []byte) []byte
	trips int
}

func (t *fakeTransport) RoundTrip(ctx context.Context, req []byte) ([]byte, error) {
	t.trips++
	if t.trips > 100 {
		return nil, errors.New("fake server: 100 round trips for one iteration")
	}
	return t.reply(req), nil
}

func (t *fakeTransport) Close() error { return nil }

func fakeClient(t *fakeTransport) *client {
	return &client{addr: "fake:", dial: func(context.Context) (Transport, error) { return t, nil }}
}

// page builds a reply to opDictPage: count, (key, value)*, more.
func page(more bool, keys ...string) []byte {
	w := wbuf{b: []byte{statusOK}}
	w.uvarint(uint64(len(keys)))
	for _, k := range keys {
		w.str(k)
		w.bytes([]byte{tagInt, 0, 0, 0, 0, 0, 0, 0, 0})
	}
	w.bool(more)
	return w.b
}

// TestCorruptPages: a page of a Dict's iteration that does not move on
// (no item and more to come, or keys that are not past the last one) or
// holds more items than were asked for is ErrBadReply.
func TestCorruptPages(t *testing.T) {
	ctx := context.Background()
	many := make([]string, pageItems+1)
	for i := range many {
		many[i] = string(rune('a'+i/256)) + string(rune(i%256))
	}
	for _, tc := range []struct {
		name  string
		reply func(req []byte) []byte
	}{
		{"empty page with more", func([]byte) []byte { return page(true) }},
		{"the same page again", func([]byte) []byte { return page(true, "a", "b") }},
		{"keys out of order", func([]byte) []byte { return page(false, "b", "a") }},
		{"more items than asked for", func([]byte) []byte { return page(false, many...) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft := &fakeTransport{reply: tc.reply}
			d := Dict[string, int64]{ref: ref{c: fakeClient(ft), id: 1}}
			m, err := d.Map(ctx)
			if !errors.Is(err, ErrBadReply) {
				t.Fatalf("Map = %d items, %v after %d round trips; want ErrBadReply", len(m), err, ft.trips)
			}
		})
	}
}

// TestCorruptSlice: a page of a List's slice with more items than were
// asked for is ErrBadReply.
func TestCorruptSlice(t *testing.T) {
	ft := &fakeTransport{reply: func([]byte) []byte {
		w := wbuf{b: []byte{statusOK}}
		w.uvarint(3)
		for range 3 {
			w.bytes([]byte{tagInt, 0, 0, 0, 0, 0, 0, 0, 0})
		}
		return w.b
	}}
	l := List[int64]{ref: ref{c: fakeClient(ft), id: 1}}
	vs, err := l.Slice(context.Background(), 0, 2)
	if !errors.Is(err, ErrBadReply) {
		t.Fatalf("Slice(0, 2) = %v, %v; want ErrBadReply", vs, err)
	}
}

// TestMalformedRequestChangesNothing: a request whose operands do not
// decode (it arrives from shared memory another process writes) is
// refused and changes nothing, whatever part of it did decode: the server
// decodes every operand before it changes anything.
func TestMalformedRequestChangesNothing(t *testing.T) {
	const overrun = 5 // a byte string's length past the request's end
	for _, tc := range []struct {
		name string
		req  []byte
	}{
		{"list set, value cut short", []byte{byte(opListSet), 2, 2, overrun}}, // index 1 (zigzag)
		{"list pop, no index", []byte{byte(opListPop), 2}},
		{"list remove, value cut short", []byte{byte(opListRemove), 2, overrun}},
		{"dict delete, key cut short", []byte{byte(opDictDelete), 1, overrun}},
		{"new dict, name cut short", []byte{byte(opNew), 0, kindDict, overrun}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(1<<12, 1<<12)
			s.handle([]byte{byte(opNew), 0, kindDict, 0}, nil)             // 1
			s.handle([]byte{byte(opNew), 0, kindList, 0}, nil)             // 2
			s.handle([]byte{byte(opDictSet), 1, 0, 2, tagCodec, 'v'}, nil) // "" = v
			s.handle([]byte{byte(opListAppend), 2, 0}, nil)                // an empty item
			s.handle([]byte{byte(opListAppend), 2, 1, tagCodec}, nil)
			state := func() string {
				var b []byte
				s.objects[1].dict.Scan(func(k string, v []byte) bool {
					b = fmt.Appendf(b, "%q=%q ", k, v)
					return true
				})
				return fmt.Sprintf("%d objects; dict %s; list %q", len(s.objects), b, s.objects[2].list)
			}
			before := state()
			r := rbuf{b: s.handle(tc.req, nil)}
			if err := replyError(&r); !errors.Is(err, ErrBadReply) {
				t.Errorf("reply: %v, want a refusal", err)
			}
			if after := state(); after != before {
				t.Fatalf("the server changed:\n%s\nto\n%s", before, after)
			}
		})
	}
}

// TestHostileCountAllocatesNothing: a batch request whose count is as
// large as its bytes allow but whose items do not decode is refused
// without an allocation sized by the count: SetMany made a slice of
// 48-byte items and Extend one of 24-byte items, count long, before it
// decoded the first.
func TestHostileCountAllocatesNothing(t *testing.T) {
	const size = 1 << 20
	for name, o := range map[string]op{"SetMany": opDictSetMany, "Extend": opListExtend} {
		t.Run(name, func(t *testing.T) {
			s := newStore(MaxMessage, pageBytes)
			s.handle([]byte{byte(opNew), 0, kindDict, 0}, nil) // 1
			s.handle([]byte{byte(opNew), 0, kindList, 0}, nil) // 2
			id := uint64(1)
			if o == opListExtend {
				id = 2
			}
			w := wbuf{}
			w.reset(o, id)
			w.uvarint(size - 16)
			w.uvarint(size) // the first item's length: past the end
			req := append(w.b, make([]byte, size-len(w.b))...)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r := rbuf{b: s.handle(req, nil)}
			runtime.ReadMemStats(&after)
			if err := replyError(&r); !errors.Is(err, ErrBadReply) {
				t.Fatalf("reply: %v, want a refusal", err)
			}
			// A few KiB are the reply's, and other goroutines of the test
			// binary may allocate meanwhile: far below the 25 to 50 MB of
			// a slice sized by the count.
			if n := after.TotalAlloc - before.TotalAlloc; n > 4*size {
				t.Fatalf("a refused request of %d bytes allocated %d bytes", size, n)
			}
		})
	}
}

// TestGetManyTooLargeAllocatesLittle: a GetMany whose reply would pass the
// largest message fails with ErrTooLarge once its reply passes it, not
// after building the whole of it: the keys may repeat, or be "" over and
// over (a byte each) when a read fails, so that a small request named a
// reply of any size.
func TestGetManyTooLargeAllocatesLittle(t *testing.T) {
	const maxMsg = 1 << 20
	s := newStore(maxMsg, maxMsg)
	s.handle([]byte{byte(opNew), 0, kindDict, 0}, nil) // 1
	big := wbuf{}
	big.reset(opDictSet, 1)
	big.str("")
	big.bytes(append([]byte{tagCodec}, make([]byte, 64<<10)...))
	s.handle(big.b, nil)
	w := wbuf{}
	w.reset(opDictGetMany, 1)
	const keys = 4096 // a reply of 256 MiB
	w.uvarint(keys)
	req := append(w.b, make([]byte, keys)...) // keys of length 0: ""
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r := rbuf{b: s.handle(req, nil)}
	runtime.ReadMemStats(&after)
	if err := replyError(&r); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("reply: %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 8*maxMsg {
		t.Fatalf("a GetMany refused with ErrTooLarge (limit %d bytes) allocated %d bytes", maxMsg, n)
	}
}
