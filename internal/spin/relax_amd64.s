//go:build amd64

#include "go_asm.h"
#include "textflag.h"

// func Relax()
// relaxLoads loads of relaxWord, the loop aligned on 32 bytes so that
// its duration does not depend on where the linker places it.
TEXT ·Relax(SB), NOSPLIT, $0-0
	MOVQ $const_relaxLoads, CX
	PCALIGN $32
again:
	MOVL ·relaxWord(SB), AX
	DECQ CX
	JNZ again
	RET
