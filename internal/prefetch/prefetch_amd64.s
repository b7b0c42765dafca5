//go:build amd64

#include "textflag.h"

// func Lines(p unsafe.Pointer, n int)
// PREFETCHT0 on each 64-byte line of [p, p+n): a hint, it never faults.
TEXT ·Lines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JLE done
	ADDQ AX, CX
again:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JB again
done:
	RET


// func Write(p unsafe.Pointer, n int)
// PREFETCHW on each 64-byte line of [p, p+n): a hint, it never faults.
// Go's assembler has no PREFETCHW mnemonic: 0F 0D /1 with ModRM 0x08 is
// PREFETCHW (AX).
TEXT ·Write(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
	TESTQ CX, CX
	JLE donew
	ADDQ AX, CX
againw:
	BYTE $0x0F; BYTE $0x0D; BYTE $0x08 // PREFETCHW (AX)
	ADDQ $64, AX
	CMPQ AX, CX
	JB againw
donew:
	RET
