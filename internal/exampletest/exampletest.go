// Package exampletest runs an example program's main inside its test
// binary and checks what it prints. The example's workers are real child
// processes (the test binary re-executed; TestMain must call process.Main
// first), and their standard output, inherited from the parent, is
// captured with the parent's.
//
//	func TestMain(m *testing.M) {
//		process.Main()
//		os.Exit(m.Run())
//	}
//
//	func TestOutput(t *testing.T) {
//		exampletest.Check(t, main, "Result(in process p1): [1, 4, 9, 16]\n")
//	}
package exampletest

import (
	"io"
	"os"
	"testing"

	"github.com/shmkit/shmkit/shm"
)

// Run calls main with os.Stdout redirected to a pipe and returns everything
// written to it, by main and by the processes it started. Tests that call
// Run must not run in parallel with other users of os.Stdout.
func Run(tb testing.TB, main func()) string {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		got <- string(b)
	}()
	stdout := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = stdout }()
	main()
	os.Stdout = stdout
	w.Close()
	return <-got
}

// Check runs main as Run does and fails tb unless the output is exactly
// want, or when main left a segment created by this process in /dev/shm.
func Check(tb testing.TB, main func(), want string) {
	tb.Helper()
	out := Run(tb, main)
	if out != want {
		tb.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
	infos, err := shm.List()
	if err != nil {
		tb.Fatal(err)
	}
	for _, in := range infos {
		if in.CreatorPID == os.Getpid() {
			tb.Errorf("the example left segment %s behind", in.Name)
		}
	}
}
