package process

import (
	"context"
	"errors"
	"io"
	"testing"
)

// TestNotRegistered starts a worker name the child does not register.
func TestNotRegistered(t *testing.T) {
	p, err := start(context.Background(), "no-such-worker", nil, nil, &startOptions{name: "ghost", stdout: io.Discard, stderr: io.Discard}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait()
	if !errors.Is(err, ErrNotRegistered) || errors.Is(err, ErrPanicked) {
		t.Fatalf("Wait = %v, want ErrNotRegistered", err)
	}
}

func TestNotStarted(t *testing.T) {
	var p Process
	if err := p.Wait(); err != ErrNotStarted {
		t.Fatalf("Wait = %v", err)
	}
	if p.Kill() != ErrNotStarted || p.Terminate() != ErrNotStarted || p.Alive() || p.ExitCode() != -1 || p.Pid() != 0 {
		t.Fatal("a Process that never started should say so")
	}
}
