package pool

import (
	"errors"
	"testing"
)

// TestRequeueForgetsFailures: a chunk queued again after its worker died
// (WithRetries) keeps none of the failures of its first attempt, for
// MapShared's chunks too, whose workers cannot be killed between two of
// their records as TestRetryForgetsFirstAttempt kills Map's.
func TestRequeueForgetsFailures(t *testing.T) {
	for name, mk := range map[string]func(cl *call) (*chunk, func() []error){
		"map": func(cl *call) (*chunk, func() []error) {
			c := &tchunk[int64, int64]{f: double, in: make([]int64, 3), out: make([]int64, 3)}
			c.init(cl, 0)
			return &c.chunk, func() []error { return c.errs }
		},
		"shared": func(cl *call) (*chunk, func() []error) {
			c := &schunk[int64, int64]{f: double}
			c.chunk = chunk{call: cl, ops: c, n: 3}
			return &c.chunk, func() []error { return c.errs }
		},
	} {
		c, errs := mk(&call{})
		c.call.mu.Lock()
		c.ops.fail(0, errors.New("first attempt"))
		c.got = 1
		c.call.mu.Unlock()
		if !new(Pool).requeue(c) {
			t.Fatalf("%s: not queued again", name)
		}
		for i, err := range errs() {
			if err != nil {
				t.Fatalf("%s: task %d queued again with its error: %v", name, i, err)
			}
		}
		if c.got != 0 || c.attempts != 1 {
			t.Fatalf("%s: queued again with %d results, attempt %d", name, c.got, c.attempts)
		}
	}
}
