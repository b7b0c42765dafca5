package process

import (
	"context"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// The relatives of this process: its parent (in a worker) and the children
// it has started and not yet reaped.

var (
	parent    Info // the process that started this worker; set by Main
	hasParent bool
)

// Parent returns the process that started this worker (Python's
// parent_process()): its name, PID and worker name, as its Current said
// when it called Start. ok is false in a process that Start did not start
// (the main process). The parent may have exited since: a Detached child
// outlives it.
func Parent() (info Info, ok bool) { return parent, hasParent }

// parentValue is what a child finds in envParent: this process, as
// "PID,WORKER,NAME" with WORKER quoted (a worker name may hold commas; a
// process name ends the value).
func parentValue() string {
	return strconv.Itoa(current.Pid) + "," + strconv.Quote(current.Worker) + "," + current.Name
}

// parseParent reads parentValue's format.
func parseParent(v string) (Info, bool) {
	pid, rest, ok := strings.Cut(v, ",")
	if !ok {
		return Info{}, false
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return Info{}, false
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil || len(rest) == len(quoted) || rest[len(quoted)] != ',' {
		return Info{}, false
	}
	worker, _ := strconv.Unquote(quoted)
	return Info{Pid: n, Worker: worker, Name: rest[len(quoted)+1:]}, true
}

// children is the set of processes this process started and has not yet
// reaped, in the order they started.
var children childSet

type childSet struct {
	mu sync.Mutex
	ps []*Process
}

func (c *childSet) add(p *Process) {
	c.mu.Lock()
	c.ps = append(c.ps, p)
	c.mu.Unlock()
}

func (c *childSet) remove(p *Process) {
	c.mu.Lock()
	if i := slices.Index(c.ps, p); i >= 0 {
		c.ps = slices.Delete(c.ps, i, i+1)
	}
	c.mu.Unlock()
}

// ActiveChildren returns the children this process has started that have
// not yet exited (Python's active_children()), oldest first. A child counts
// until it has exited and been reaped, which happens in the background:
// there is nothing to join.
func ActiveChildren() []*Process {
	children.mu.Lock()
	defer children.mu.Unlock()
	return slices.Clone(children.ps)
}

// WaitAny waits until at least one of ps has exited and returns those that
// have, in the order given (Python's multiprocessing.connection.wait on
// process sentinels). It returns at once when one already has. When ctx
// ends first it returns nil and ctx's error; with no processes, nil and
// nil. A Process that never started gives ErrNotStarted.
//
// To wait for a process together with other events, select on its Done
// channel instead.
func WaitAny(ctx context.Context, ps ...*Process) ([]*Process, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	cases := make([]reflect.SelectCase, 0, len(ps)+1)
	cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
	for _, p := range ps {
		if p == nil || p.done == nil {
			return nil, ErrNotStarted
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(p.done)})
	}
	if exited := exitedOf(ps); len(exited) > 0 {
		return exited, nil
	}
	if chosen, _, _ := reflect.Select(cases); chosen == 0 {
		return nil, ctx.Err()
	}
	return exitedOf(ps), nil
}

// WaitAll waits until every one of ps has exited 0, and returns nil then.
// It returns the error of the first that exits otherwise (its Wait's), as
// soon as it does, and ctx's error if ctx ends first; the others run on.
// A worker that dies before it does its part may leave the rest waiting
// for it for ever (at a barrier, say): WaitAll reports it, where waiting
// for each in turn would wait with them.
func WaitAll(ctx context.Context, ps ...*Process) error {
	for running := slices.Clone(ps); len(running) > 0; {
		exited, err := WaitAny(ctx, running...)
		if err != nil {
			return err
		}
		for _, p := range exited {
			if err := p.Wait(); err != nil {
				return err
			}
		}
		running = slices.DeleteFunc(running, func(q *Process) bool { return slices.Contains(exited, q) })
	}
	return nil
}

// exitedOf returns those of ps that have exited.
func exitedOf(ps []*Process) []*Process {
	var out []*Process
	for _, p := range ps {
		select {
		case <-p.done:
			out = append(out, p)
		default:
		}
	}
	return out
}
