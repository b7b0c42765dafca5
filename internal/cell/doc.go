// Package cell is the shared machinery under package value and package
// array: one object layout (a seqlock word, a lock, then the elements), its
// creation and lookup in a segment's object directory, the seqlock's read and
// write protocol, the lock with dead-owner repair, the gob handle that lets a
// cell travel to a worker process, and the one accessor that turns the
// mapping into typed pointers.
//
// Users never import it: value.Value[T], value.RawValue[T], array.Array[T]
// and array.RawArray[T] are the public faces.
package cell
