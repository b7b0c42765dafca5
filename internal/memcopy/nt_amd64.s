//go:build amd64 && !race

#include "textflag.h"

// func copyNT(dst, src unsafe.Pointer, n int)
// Copies n bytes (a multiple of 64, dst 16-byte aligned, the two not
// overlapping) with non-temporal stores (MOVNTDQ, which Go's assembler
// calls MOVNTO), 64 bytes a round, then SFENCE: the stores are visible
// before any store that follows, as a publication needs.
TEXT ·copyNT(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $6, CX
	JZ   done
again:
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVNTO X0, 0(DI)
	MOVNTO X1, 16(DI)
	MOVNTO X2, 32(DI)
	MOVNTO X3, 48(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  again
done:
	SFENCE
	RET

// func clearNT(dst unsafe.Pointer, n int)
// Zeroes n bytes (a multiple of 64, dst 16-byte aligned) with
// non-temporal stores, 64 bytes a round, then SFENCE, as copyNT. The
// SFENCE is what lets an MPSC consumer's release store of its head publish
// the zeros (ringbuf's publish): without it a zero could land after a
// producer's write of the next lap. No single-threaded test sees it go.
TEXT ·clearNT(SB), NOSPLIT, $0-16
	MOVQ dst+0(FP), DI
	MOVQ n+8(FP), CX
	SHRQ $6, CX
	JZ   cdone
	PXOR X0, X0
cagain:
	MOVNTO X0, 0(DI)
	MOVNTO X0, 16(DI)
	MOVNTO X0, 32(DI)
	MOVNTO X0, 48(DI)
	ADDQ $64, DI
	DECQ CX
	JNZ  cagain
cdone:
	SFENCE
	RET
