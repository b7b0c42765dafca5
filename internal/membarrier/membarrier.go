// Package membarrier is membarrier(2)'s global expedited command: the
// asymmetric fence that lets a hot path order a store before a load with
// no fence of its own, while a rare path pays for both sides.
//
// The pattern (Dekker's, made asymmetric; see membarrier(2) and liburcu's
// use of it):
//
//	fast side (registered process):  store A; load B
//	slow side (any process):         store B; Fence(); load A
//
// Either the fast side's load of B sees the slow side's store, or the slow
// side's load of A, after Fence, sees the fast side's store. On amd64 a
// store followed by a load of another word may otherwise be reordered (the
// store waits in the store buffer), and only a locked instruction or
// MFENCE on the fast side would forbid that: the cost this package moves
// to the slow side.
//
// A process takes the fast side only once Registered reports true, which
// it does once the registration that the first call started has finished.
package membarrier
