package ringbuf_test

import (
	"bytes"
	"encoding/gob"
	"errors"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/ringbuf"
)

// decoded returns a handle decoded from h's encoding, as a worker gets
// it: over an attachment of the segment of its own, which its Close drops.
func decoded[R any](t *testing.T, h any) *R {
	t.Helper()
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(h); err != nil {
		t.Fatal(err)
	}
	var d *R
	if err := gob.NewDecoder(&b).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestDecodedHandleAfterClose: a decoded handle's Close unmaps its
// attachment, and every call left on it after that must touch none of
// the memory: a second Close (a worker's deferred Close after its own)
// and CloseWrite and CloseRead do nothing, Len reports 0, GobEncode
// refuses with ErrClosed. They woke the ring's waiters, or read its
// indices, through the unmapped page: SIGSEGV.
func TestDecodedHandleAfterClose(t *testing.T) {
	seg := shmtest.Segment(t, 1<<16)
	spsc, err := ringbuf.NewSPSC(seg, "spsc", 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer spsc.Close()
	mpsc, err := ringbuf.NewMPSC(seg, "mpsc", 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer mpsc.Close()
	mpmc, err := ringbuf.NewMPMC(seg, "mpmc", 8, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer mpmc.Close()

	s := decoded[ringbuf.SPSC](t, spsc)
	m := decoded[ringbuf.MPSC](t, mpsc)
	q := decoded[ringbuf.MPMC](t, mpmc)
	if err := s.Write(t.Context(), []byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := m.Write(t.Context(), []byte("b")); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(t.Context(), []byte("c")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []interface{ Close() error }{s, m, q} {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	type vring interface {
		Close() error
		CloseWrite() error
		CloseRead() error
		Len() int
		GobEncode() ([]byte, error)
	}
	for name, r := range map[string]vring{"SPSC": s, "MPSC": m} {
		for _, call := range []struct {
			what string
			f    func() error
		}{{"Close", r.Close}, {"CloseWrite", r.CloseWrite}, {"CloseRead", r.CloseRead}} {
			if err := call.f(); err != nil {
				t.Errorf("%s: %s after Close = %v, want nil", name, call.what, err)
			}
		}
		if n := r.Len(); n != 0 {
			t.Errorf("%s: Len after Close = %d, want 0", name, n)
		}
		if _, err := r.GobEncode(); !errors.Is(err, ringbuf.ErrClosed) {
			t.Errorf("%s: GobEncode after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := q.Close(); err != nil {
		t.Errorf("MPMC: Close after Close = %v, want nil", err)
	}
	if n := q.Len(); n != 0 {
		t.Errorf("MPMC: Len after Close = %d, want 0", n)
	}
	if _, err := q.GobEncode(); !errors.Is(err, ringbuf.ErrClosed) {
		t.Errorf("MPMC: GobEncode after Close = %v, want ErrClosed", err)
	}
	// The rings live on for the handles that made them.
	if spsc.Len() == 0 || mpsc.Len() == 0 || mpmc.Len() != 1 {
		t.Errorf("Len of the makers' handles = %d, %d, %d: want the records written", spsc.Len(), mpsc.Len(), mpmc.Len())
	}
}
