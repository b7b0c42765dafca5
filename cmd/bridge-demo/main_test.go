package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// envArgs, in a copy of the test binary, holds the command line (split at the
// unit separator, 0x1f) that TestMain runs main with.
const envArgs = "SHMKIT_TEST_BRIDGE_DEMO_ARGS"

func TestMain(m *testing.M) {
	process.Main()
	if args, ok := os.LookupEnv(envArgs); ok {
		os.Unsetenv(envArgs)
		os.Args = append(os.Args[:1], strings.Split(args, "\x1f")...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// demoCmd is the program run with args in a copy of the test binary, its
// standard error gathered in the buffer it returns.
func demoCmd(args ...string) (*exec.Cmd, *bytes.Buffer) {
	stderr := new(bytes.Buffer)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envArgs+"="+strings.Join(args, "\x1f"))
	cmd.Stderr = stderr
	cmd.WaitDelay = time.Second
	return cmd, stderr
}

// bridgeDemo runs the program with args in a copy of the test binary and
// returns its exit status and standard error; it gives it 10s, then kills
// it and returns -1.
func bridgeDemo(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	cmd, stderr := demoCmd(args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill() // its workers die with it
		<-done
		infos, _ := shm.List(shm.WithDir(dir))
		for _, in := range infos {
			shm.Unlink(in.Name, shm.WithDir(dir))
		}
		return -1, "(still ran after 10s)"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), stderr.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// TestBadInput: a -procs of no worker process or a role that does not
// exist is a usage error (exit 2) that says what is wrong, before the
// program connects or makes anything; not a panic, not processes started
// without end, not a connection error.
func TestBadInput(t *testing.T) {
	s := startServer(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nats", s.ClientURL(), "-dir", dir, "-procs", "0", "-n", "10", "produce"}, "-procs"},
		{[]string{"-nats", s.ClientURL(), "-dir", dir, "-procs", "-1", "-n", "10", "produce"}, "-procs"},
		{[]string{"-nats", "nats://127.0.0.1:1", "-dir", dir, "bogus"}, `"bogus"`},
		{[]string{"-nats", "nats://127.0.0.1:1", "-dir", dir}, "produce, consume"},
	} {
		code, stderr := bridgeDemo(t, dir, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "panic") {
			t.Errorf("bridge-demo %q: exit %d, stderr %q; want exit 2 saying %s", tc.args, code, stderr, tc.want)
		}
	}
	if infos, err := shm.List(shm.WithDir(dir)); err != nil || len(infos) > 0 {
		t.Errorf("bad input left segments in %s: %v %v", dir, infos, err)
		for _, in := range infos {
			shm.Unlink(in.Name, shm.WithDir(dir))
		}
	}
}

// startServer runs a JetStream server in this process on a free loopback
// port; cleanup shuts it down.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats server not ready in 30 s")
	}
	return s
}

// TestInterruptedProduceKeepsQueue: Ctrl-C on a produce that is
// publishing ends it with an error, and leaves its segment (the queue,
// with what the producers put and Send has not published, and Send's
// journal of what it published unacknowledged) for the next run, as a
// crashed run does: unlinked, those messages would be lost. It must not
// crash on the way out.
func TestInterruptedProduceKeepsQueue(t *testing.T) {
	s := startServer(t)
	dir := t.TempDir()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cmd, stderr := demoCmd("-nats", s.ClientURL(), "-dir", dir, "-procs", "1", "-n", "1000000000", "produce")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		infos, _ := shm.List(shm.WithDir(dir))
		for _, in := range infos {
			shm.Unlink(in.Name, shm.WithDir(dir))
		}
	}()
	// Publishing: the stream holds messages.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := js.Stream(ctx, "DEMO")
		var msgs uint64
		if err == nil {
			if info, err := st.Info(ctx); err == nil {
				msgs = info.State.Msgs
			}
		}
		cancel()
		if msgs > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("produce ended before it published: %v\n%s", err, stderr.String())
		case <-time.After(10 * time.Millisecond): // the next look at the stream
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-done
			t.Fatalf("produce published nothing in 30s\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("produce still ran 20s after Ctrl-C\n%s", stderr.String())
	}
	if err == nil {
		t.Errorf("an interrupted produce exited 0\n%s", stderr.String())
	}
	if e := stderr.String(); strings.Contains(e, "fatal error") || strings.Contains(e, "panic") {
		t.Errorf("an interrupted produce crashed: %v\n%s", err, e)
	}
	infos, lerr := shm.List(shm.WithDir(dir))
	if lerr != nil {
		t.Fatal(lerr)
	}
	if len(infos) != 1 || infos[0].Name != "bridge-demo-produce" {
		t.Fatalf("after Ctrl-C, %s holds %v; want the queue's segment bridge-demo-produce kept (%v)\n%s", dir, infos, err, stderr.String())
	}
}

// TestManagerAddAlone: manager-add with no manager-serve on its subject
// says that, not only what NATS said.
func TestManagerAddAlone(t *testing.T) {
	s := startServer(t)
	code, stderr := bridgeDemo(t, t.TempDir(), "-nats", s.ClientURL(), "-subject", "shmkit.test.alone", "-n", "1", "manager-add")
	if code != 1 || !strings.Contains(stderr, "no manager-serve") || !strings.Contains(stderr, "shmkit.test.alone") {
		t.Fatalf("manager-add alone: exit %d, stderr %q; want exit 1 saying no manager-serve answers on shmkit.test.alone", code, stderr)
	}
}
