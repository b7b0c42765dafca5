package manager

import (
	"context"
	"testing"
	"time"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
)

// TestUnreadRepliesStallNobody: a client that sends requests and reads
// none of the replies (a buggy or hostile one: the manager's own client
// reads each reply before it sends again) fills its pipe's reply ring. The
// poller, which serves every busy client, must not wait for room there:
// it waited, in SendBytes, and every other client served by the poller,
// or handed to it later, waited with it, until that client read, closed
// or died. Both pipes start in the poller's hands, as the server's owner
// goroutines hand them over, so that the test does not depend on when the
// server decides to poll.
func TestUnreadRepliesStallNobody(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{st: newStore(MaxMessage, pageBytes), ctx: ctx, cancel: cancel}
	// A dict whose value "k" is 100 bytes: a Get's request is a sixth of
	// its reply's size, so that the requests sent up front fit their ring
	// and their replies are three times the reply ring.
	set := wbuf{}
	set.reset(opNew, 0)
	set.byte(kindDict)
	set.str("")
	s.st.handle(set.b, nil)
	set.reset(opDictSet, 1)
	set.str("k")
	set.bytes(append([]byte{tagCodec}, make([]byte, 100)...))
	s.st.handle(set.b, nil)
	get := wbuf{}
	get.reset(opDictGet, 1)
	get.str("k")

	var clients [2]*pipe.Conn[[]byte]
	var pcs []*pconn
	for i := range clients {
		srv, cli, err := pipe.New(pipeOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		defer cli.Close()
		clients[i] = cli
		pcs = append(pcs, &pconn{c: srv, back: make(chan struct{}, 1)})
	}
	hostile, bystander := clients[0], clients[1]
	call, stop := context.WithTimeout(ctx, shmtest.Timeout(t, 10*time.Second))
	defer stop()
	// The requests fit their ring: these sends never wait for room.
	const sent = 2000 // requests of 32 KiB, replies of 3 × 64 KiB
	for i := range sent {
		if err := hostile.SendBytes(call, get.b); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}

	// The owners wait for their pipes back, then serve them as own does;
	// the poller starts with both.
	for _, pc := range pcs {
		s.wg.Add(1)
		go func() {
			<-pc.back
			s.own(pc)
		}()
	}
	s.polling = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.poll(nil, pcs)
	}()
	defer func() {
		hostile.Close() // its owner may wait for room in its reply ring
		s.done.Store(true)
		cancel()
		s.wg.Wait()
	}()

	// More round trips than the hostile client's reply ring holds replies:
	// the poller has filled it before the bystander is done. Each round
	// trip has its own deadline: a stall is a round trip that never ends,
	// while the time all of them take is the machine's speed (on 2 busy
	// cores, 2000 took longer than 10 s).
	for i := range sent {
		if err := bystanderRoundTrip(ctx, t, bystander, get.b); err != nil {
			t.Fatalf("bystander's round trip %d (the hostile client's unread replies stall the server?): %v", i, err)
		}
	}
}

// bystanderRoundTrip sends req on c and reads the reply, within 10 s.
func bystanderRoundTrip(ctx context.Context, t *testing.T, c *pipe.Conn[[]byte], req []byte) error {
	call, stop := context.WithTimeout(ctx, shmtest.Timeout(t, 10*time.Second))
	defer stop()
	if err := c.SendBytes(call, req); err != nil {
		return err
	}
	_, err := c.RecvBytes(call)
	return err
}
