// Package example is the shm-squares program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs
// it in its tour. Its worker names start with "shm-squares." so that they are
// unique in that binary, which registers the workers of every example.
package example

import (
	"context"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/shmkit/shmkit/process"
	"github.com/shmkit/shmkit/shm"
)

// squareArgs travel to the child; the segment arrives there mapped.
type squareArgs struct {
	MyList []int
	Result *shm.Segment
}

var squareList = process.Register("shm-squares.square_list", func(ctx context.Context, a squareArgs) error {
	defer a.Result.Close()
	res := a.Result.Bytes()
	for idx, num := range a.MyList {
		binary.LittleEndian.PutUint32(res[4*idx:], uint32(num*num))
	}
	fmt.Printf("Result(in process %s): %s\n", process.Current().Name, pyList(res, len(a.MyList)))
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

// run returns its errors to Main, so that the segment is unlinked first:
// log.Fatal runs no deferred calls.
func run() error {
	// Ctrl-C or kill stops the worker (its context's end kills it) and
	// makes run return, so that the segment is unlinked before the program ends.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	mylist := []int{1, 2, 3, 4}
	result, err := shm.Create(fmt.Sprintf("shmkit-example-squares-%d", os.Getpid()), int64(4*len(mylist)))
	if err != nil {
		return err
	}
	defer result.Close()
	defer result.Unlink()

	p1, err := squareList.Start(ctx, squareArgs{MyList: mylist, Result: result}, process.WithName("p1"))
	if err != nil {
		return err
	}
	if err := p1.Wait(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: %w", err)
		}
		return err
	}
	fmt.Printf("Result(in main program): %s\n", pyList(result.Bytes(), len(mylist)))
	return nil
}

// pyList formats the first n int32s of b as Python prints a list.
func pyList(b []byte, n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = strconv.Itoa(int(int32(binary.LittleEndian.Uint32(b[4*i:]))))
	}
	return "[" + strings.Join(s, ", ") + "]"
}
