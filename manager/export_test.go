package manager

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/shmkit/shmkit/pipe"
)

// ServerPid returns the pid of the server process Start started.
func ServerPid(m *Manager) int { return m.proc.Pid() }

// stallCodec encodes a prepared request into the ring in place, and calls
// stall half way (half) or once it is whole: the record is reserved, not
// committed, when stall runs in the first case.
type stallCodec struct {
	half  bool
	stall func()
}

func (stallCodec) CodecName() string            { return "bytes" }
func (stallCodec) Size(v *[]byte) int           { return len(*v) }
func (stallCodec) Decode([]byte, *[]byte) error { return nil }
func (c stallCodec) Append(dst []byte, v *[]byte) ([]byte, error) {
	if c.half {
		dst = append(dst, (*v)[:len(*v)/2]...)
		c.stall()
	}
	return append(dst, *v...), nil
}

// RawAdd sends an Add of delta to key on d over a pipe of its own and then
// calls stall, which must not return: with half, halfway through writing the
// request into the ring (never committed); without, once it is sent whole
// and before its reply is read.
func RawAdd(ctx context.Context, d *Dict[string, int64], key string, delta int64, half bool, stall func()) error {
	w := getBuf(opDictAdd, d.id)
	d.putKey(w, key)
	if err := d.putValue(w, delta); err != nil {
		return err
	}
	w.byte(d.vc().width())
	o := pipeOptions()
	o.Codec = stallCodec{half: half, stall: stall}
	c, err := pipe.Dial(ctx, strings.TrimPrefix(d.c.addr, "shm:"), o)
	if err != nil {
		return err
	}
	if err := c.Send(ctx, w.b); err != nil {
		return err
	}
	stall()
	return nil
}

// Readdress returns the proxy handle b pointing at addr instead.
func Readdress(b []byte, addr string) []byte {
	var h handle
	if err := gobDecode(b, &h); err != nil {
		panic(err)
	}
	h.Addr = addr
	out, err := gobEncode(h)
	if err != nil {
		panic(err)
	}
	return out
}

// NextListenName is the listener name the next New or Start of this
// process takes.
func NextListenName() string {
	return fmt.Sprintf("shmkit-manager-%d-%d", os.Getpid(), listenSeq.Load()+1)
}
