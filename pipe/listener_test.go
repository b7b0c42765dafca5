package pipe_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/shmkit/shmkit/internal/shmtest"
	"github.com/shmkit/shmkit/pipe"
)

// envDialer makes the test binary, run as a plain program (not through
// process.Start), the dialing side of TestListenerAcrossProcesses: an
// unrelated process that knows the listener by name alone.
const envDialer = "SHMKIT_TEST_DIAL"

func TestListenerDialerProcess(t *testing.T) {
	name := os.Getenv(envDialer)
	if name == "" {
		t.Skip("the dialing process of TestListenerAcrossProcesses")
	}
	ctx := ctxT(t)
	c, err := pipe.Dial(ctx, name, pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send(ctx, fmt.Sprintf("hello from %d", os.Getpid())); err != nil {
		t.Fatal(err)
	}
	reply, err := c.Recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("dialer got:", reply)
	c.Close()
}

// leftovers lists the segments in /dev/shm whose names start with prefix.
var leftovers = pipe.Leftovers

func TestListenerAcrossProcesses(t *testing.T) {
	ctx := ctxT(t)
	name := shmtest.Name(t)
	l, err := pipe.Listen(name, pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const dialers = 3
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for range dialers {
		cmd := exec.Command(os.Args[0], "-test.run=^TestListenerDialerProcess$", "-test.v")
		cmd.Env = append(os.Environ(), envDialer+"="+name)
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	pids := map[string]bool{}
	for range dialers {
		c, err := l.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := c.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pids[strings.TrimPrefix(msg, "hello from ")] = true
		if err := c.Send(ctx, "welcome"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Recv(ctx); err == nil { // the dialer closes: EOF
			t.Fatal("Recv after the dialer closed: no error")
		}
		c.Close()
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("dialer: %v\n%s", err, outs[i])
		}
		if !strings.Contains(outs[i].String(), "dialer got: welcome") || !pids[fmt.Sprint(cmd.Process.Pid)] {
			t.Fatalf("dialer %d said:\n%s", cmd.Process.Pid, outs[i])
		}
	}
	if left := leftovers(t, name+"."); len(left) > 0 {
		t.Fatalf("connection segments left behind: %v", left)
	}
}

func TestDialRefusedAndAbandoned(t *testing.T) {
	ctx := ctxT(t)
	name := shmtest.Name(t)
	if _, err := pipe.Dial(ctx, name, pipe.Options[string]{}); !errors.Is(err, pipe.ErrRefused) {
		t.Fatalf("Dial with no listener = %v, want ErrRefused", err)
	}
	l, err := pipe.Listen(name, pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	// Nobody accepts: the dialer gives up when its context ends, and leaves
	// nothing behind; Accept then skips the abandoned offer.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pipe.Dial(cctx, name, pipe.Options[string]{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with a cancelled context = %v", err)
	}
	if left := leftovers(t, name+"."); len(left) > 0 {
		t.Fatalf("an abandoned Dial left %v", left)
	}
	// A dialer of another type is refused by Accept.
	got := make(chan error, 1)
	go func() {
		_, err := pipe.Dial(ctx, name, pipe.Options[int64]{})
		got <- err
	}()
	if _, err := l.Accept(ctx); err == nil {
		t.Fatal("Accept of a pipe of another type: no error")
	}
	if err := <-got; !errors.Is(err, pipe.ErrRefused) {
		t.Fatalf("Dial of another type = %v, want ErrRefused", err)
	}
	// Close wakes a waiting Accept and refuses a waiting dialer.
	acc := make(chan error, 1)
	go func() {
		_, err := l.Accept(ctx)
		acc <- err
	}()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-acc; !errors.Is(err, pipe.ErrClosed) {
		t.Fatalf("Accept after Close = %v, want ErrClosed", err)
	}
	if _, err := pipe.Dial(ctx, name, pipe.Options[string]{}); !errors.Is(err, pipe.ErrRefused) {
		t.Fatalf("Dial after Close = %v, want ErrRefused", err)
	}
	if left := leftovers(t, name); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
}

// A listener and a client meet by name, as Python's Listener and Client
// do; here both sides are in one process for brevity, but the dialer is
// usually another program that knows only the name.
func ExampleListener() {
	ctx := context.Background()
	l, err := pipe.Listen(fmt.Sprintf("example-listener-%d", os.Getpid()), pipe.Options[string]{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	go func() { // the client
		c, err := pipe.Dial(ctx, l.Name(), pipe.Options[string]{})
		if err != nil {
			panic(err)
		}
		defer c.Close()
		c.Send(ctx, "hello")
		reply, _ := c.Recv(ctx)
		fmt.Println("client got:", reply)
		c.Send(ctx, "bye")
	}()
	c, err := l.Accept(ctx)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	msg, _ := c.Recv(ctx)
	fmt.Println("server got:", msg)
	c.Send(ctx, "hi")
	msg, _ = c.Recv(ctx) // after the client printed
	fmt.Println("server got:", msg)
	// Output:
	// server got: hello
	// client got: hi
	// server got: bye
}

// TestListenerCloseTwice: Close is idempotent, also as the defer after an
// explicit Close (a second Close wrote into the unmapped segment: SIGSEGV).
func TestListenerCloseTwice(t *testing.T) {
	l, err := pipe.Listen(shmtest.Name(t), pipe.Options[string]{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// mappings counts this process's mappings of files whose path holds s.
func mappings(t *testing.T, s string) int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	return strings.Count(string(b), s)
}

// TestDialAcceptUnmaps: a dialed pipe's two ends unmap their connection
// segment when closed (each kept it mapped for the life of the process),
// and concurrent Accepts never take one offer twice.
func TestDialAcceptUnmaps(t *testing.T) {
	ctx := ctxT(t)
	name := shmtest.Name(t)
	l, err := pipe.Listen(name, pipe.Options[int]{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 40
	var acc sync.WaitGroup
	for range 2 { // two Accepts race for every offer
		acc.Add(1)
		go func() {
			defer acc.Done()
			for {
				c, err := l.Accept(ctx)
				if err != nil {
					return
				}
				v, err := c.Recv(ctx)
				if err == nil {
					err = c.Send(ctx, v+1)
				}
				if err != nil {
					t.Errorf("acceptor: %v", err)
				}
				c.Close()
			}
		}()
	}
	var dial sync.WaitGroup
	for i := range n {
		dial.Add(1)
		go func() {
			defer dial.Done()
			c, err := pipe.Dial(ctx, name, pipe.Options[int]{})
			if err != nil {
				t.Errorf("Dial: %v", err)
				return
			}
			defer c.Close()
			if err := c.Send(ctx, i); err != nil {
				t.Errorf("dialer Send: %v", err)
				return
			}
			if v, err := c.Recv(ctx); err != nil || v != i+1 {
				t.Errorf("dialer Recv = %d, %v", v, err)
			}
		}()
	}
	dial.Wait()
	l.Close()
	acc.Wait()
	if m := mappings(t, name+"."); m != 0 {
		t.Fatalf("%d mappings of closed dialed pipes remain", m)
	}
}

// TestDialLargeMessages: a dialed pipe honours Options.MaxMessage (its
// connection segment holds the arena): messages far over the ring's record
// cross both ways, and nothing is left in /dev/shm.
func TestDialLargeMessages(t *testing.T) {
	ctx := ctxT(t)
	name := shmtest.Name(t)
	o := pipe.Options[[]byte]{Capacity: 4096, MaxMessage: 8 << 20}
	l, err := pipe.Listen(name, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		p, err := c.Peek(ctx)
		if err == nil {
			reply := append([]byte(nil), p...)
			c.Discard()
			reply[0] ^= 0xff
			err = c.SendBytes(ctx, reply)
		}
		done <- err
	}()
	c, err := pipe.Dial(ctx, name, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := make([]byte, 5<<20)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	if err := c.SendBytes(ctx, msg); err != nil {
		t.Fatal(err)
	}
	got, err := c.RecvBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msg[0] ^= 0xff
	if !bytes.Equal(got, msg) {
		t.Fatalf("reply of %d bytes differs from the %d sent", len(got), len(msg))
	}
	if err := c.SendBytes(ctx, make([]byte, 9<<20)); !errors.Is(err, pipe.ErrTooLarge) {
		t.Fatalf("a message over MaxMessage: %v, want ErrTooLarge", err)
	}
	if left := leftovers(t, name+"."); len(left) != 0 {
		t.Fatalf("left in /dev/shm: %v", left)
	}
}
