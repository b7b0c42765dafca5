// Package example is the pool-map program (see ../main.go for what it does
// and the Python it follows), importable so that the shmkit binary runs it
// in its tour. Its function names start with "pool-map." so that they are
// unique in that binary, which registers the functions of every example.
package example

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/shmkit/shmkit/pool"
	"github.com/shmkit/shmkit/process"
)

var doCalculation = pool.Register("pool-map.do_calculation", func(ctx context.Context, data int) (int, error) {
	return data * 2, nil
})

var startProcess = pool.RegisterInitializer("pool-map.start_process", func(ctx context.Context) error {
	fmt.Println("Starting", process.Current().Name)
	return nil
})

// Main runs the program: main calls it after process.Main.
func Main() {
	Run(4, 0)
}

// Run is the program with a pool of the given size and maxtasksperchild
// (0: none); pool-maxtasks runs it too. The workers' lines are collected
// and printed in the order of their names once the pool has been joined:
// processes print concurrently, in an order that varies from run to run.
func Run(processes, maxTasks int) {
	ctx := context.Background()
	inputs := make([]int, 10)
	for i := range inputs {
		inputs[i] = i
	}
	fmt.Println("Input   :", PyList(inputs))
	builtin := make([]int, len(inputs))
	for i, x := range inputs {
		builtin[i] = x * 2
	}
	fmt.Println("Built-in:", PyList(builtin))

	var lines Lines
	opts := []pool.Option{pool.Processes(processes), pool.WithInitializer(startProcess), pool.WithStdout(&lines)}
	var call []pool.CallOption
	if maxTasks > 0 {
		opts = append(opts, pool.MaxTasksPerChild(maxTasks))
		call = append(call, pool.Chunksize(1)) // ten tasks: five workers of two each
	}
	p, err := pool.Start(ctx, opts...)
	if err != nil {
		log.Fatal(err)
	}
	outputs, err := pool.Map(ctx, p, doCalculation, inputs, call...)
	if err != nil {
		log.Fatal(err)
	}
	p.Close()
	if err := p.Join(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Print(lines.Sorted())
	fmt.Println("Pool    :", PyList(outputs))
}

// Lines collects what the workers print; it is safe for concurrent use.
type Lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (l *Lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Sorted returns the lines collected, ordered by the number that ends
// each (the worker's).
func (l *Lines) Sorted() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.SplitAfter(l.buf.String(), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	num := func(s string) int {
		s = strings.TrimSpace(s)
		n, _ := strconv.Atoi(s[strings.LastIndexAny(s, "- ")+1:])
		return n
	}
	slices.SortStableFunc(lines, func(a, b string) int { return num(a) - num(b) })
	return strings.Join(lines, "")
}

// PyList formats a list as Python prints one: [0, 2, 4].
func PyList(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
