//go:build amd64 && !race

#include "textflag.h"

// func storeRelease(addr *uint64, v uint64)
// A plain MOV: on amd64 (TSO) every store has release semantics, and a call
// into assembly is a compiler barrier, so the stores before the call are
// visible to another core before this one.
TEXT ·storeRelease(SB), NOSPLIT, $0-16
	MOVQ addr+0(FP), AX
	MOVQ v+8(FP), BX
	MOVQ BX, (AX)
	RET

// func storeRelease32(addr *uint32, v uint32)
TEXT ·storeRelease32(SB), NOSPLIT, $0-12
	MOVQ addr+0(FP), AX
	MOVL v+8(FP), BX
	MOVL BX, (AX)
	RET
