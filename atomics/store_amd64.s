//go:build amd64 && !race

#include "textflag.h"

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
