//go:build amd64 && !race

#include "textflag.h"

// func StoreRelease64(w *atomic.Uint64, v uint64)
// A plain MOV: on amd64 (TSO) every store has release semantics, and a call
// into assembly is a compiler barrier, so the stores before the call are
// visible to another core before this one.
TEXT ·StoreRelease64(SB), NOSPLIT, $0-16
	MOVQ w+0(FP), AX
	MOVQ v+8(FP), BX
	MOVQ BX, (AX)
	RET

// func StoreRelease32(w *atomic.Uint32, v uint32)
TEXT ·StoreRelease32(SB), NOSPLIT, $0-12
	MOVQ w+0(FP), AX
	MOVL v+8(FP), BX
	MOVL BX, (AX)
	RET

// func Pause(n int)
// n PAUSE instructions: a spinning waiter's back-off that frees the core's
// pipeline for its sibling and leaves the watched cache line to its owner.
TEXT ·Pause(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	TESTQ CX, CX
	JLE done
again:
	PAUSE
	DECQ CX
	JNZ again
done:
	RET
