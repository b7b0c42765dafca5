// Package process starts worker functions as real operating-system
// processes, as Python's multiprocessing.Process does with its "spawn" start
// method.
//
// Go cannot fork a running program, so a worker is the program itself,
// executed again with a marker in its environment. Worker functions are
// registered by name at package initialisation; main (and TestMain) calls
// Main first, which runs the worker and exits when the process was started
// as one, and returns at once otherwise:
//
//	var square = process.Register("square", func(ctx context.Context, n int) error {
//		fmt.Println(n * n)
//		return nil
//	})
//
//	func main() {
//		process.Main()
//		p, err := square.Start(ctx, 7)
//		…
//		err = p.Wait()
//	}
//
// Forgetting Main is caught, never repeated. A child acknowledges, on the
// socket that brought its arguments, that Main has read them and is about to
// call the worker; a child that exits without that acknowledgement never ran
// the worker, and Wait returns an *ExitError matching ErrNoMain even when its
// exit status is 0 (its main did something else and returned). A child whose
// main calls Start without having called Main does not start a copy of
// itself, which would do the same, without end: that Start prints a message
// naming process.Main and ends the process with status 3, and the parent's
// Wait again matches ErrNoMain. So exactly one child is started. A main that
// forgets Main and then never returns keeps its child running, as any
// child that does not return does: Wait returns when it exits.
//
// Arguments travel to the child encoded with encoding/gob. Shared objects
// inside them (segments, Values, Arrays, locks, rings, queues, pipes) encode
// as handles — segment, object name, kind, element-type fingerprint — and
// the child attaches to the same shared memory when it decodes them, so a
// worker receives live objects. Anonymous segments travel as inherited file
// descriptors; other open files (a pipe or socket end) go WithFiles and are
// found in the child with File.
//
// A child is its objects' peer from the moment Start returns, not from the
// moment it decodes them: queues, pipe ends and rings among the arguments
// record it (a stand-in for it while the arguments encode, its own identity
// once it runs), so that a process waiting on the object counts a worker
// that is still starting as alive, and a worker that dies before it
// attaches as dead.
//
// Lifetime: a child dies with its parent (SIGKILL on parent death, and an
// inherited pipe whose end of file the child watches) unless started with
// Detached. Cancelling the context given to Start kills the child. A worker
// that panics, returns an error or exits non-zero makes Wait return an
// *ExitError with the exit code and the tail of the child's standard error.
//
// Relatives, as in Python: Current is this process (current_process()),
// Parent the process that started it (parent_process()), ActiveChildren the
// children it started that still run (active_children()), and WaitAny waits
// for the first of several children to exit (connection.wait on their
// sentinels; a Process's Done channel serves select).
//
// Scope: Linux only.
package process
