//go:build amd64

#include "textflag.h"

// func G() uintptr
// The g of the calling goroutine: the word the runtime keeps in thread
// local storage for it, which amd64 Go code reaches as (TLS).
TEXT ·G(SB), NOSPLIT, $0-8
	MOVQ (TLS), AX
	MOVQ AX, ret+0(FP)
	RET
