//go:build !purego

package pcb

import (
	"runtime"
	"unsafe"
)

// boundCompactAVX2 is boundCompactGeneric over n entries, n a multiple of
// 8; idx and dx need room for n values.
//
//go:noescape
func boundCompactAVX2(idx *int32, dx, dtau, tau, sum *float32, n int, v *boundVecs, perm *[256][8]int32, in *uint8) (count, above int, bad bool)

// boundCompact is boundCompactGeneric, in AVX2 where the CPU has it.
func boundCompact(idx []int32, dx, dtau, tau, sum []float32, p *boundParams, in []uint8) (count, above int, bad bool) {
	if !useAVX2 || len(tau) == 0 {
		return boundCompactGeneric(idx, dx, dtau, tau, sum, p, in)
	}
	_, _, _, _, _ = idx[len(tau)-1], dx[len(tau)-1], dtau[len(tau)-1], sum[len(tau)-1], in[len(tau)/8-1]
	return boundCompactAVX2(&idx[0], &dx[0], &dtau[0], &tau[0], &sum[0], len(tau), &p.v, compressPerm, &in[0])
}

//go:noescape
func minMaxDenseAVX2(dst, tau *float32, n int, lo, hi, span float32)

// minMaxDense sets dst = MinMax(Â) of tau (as minMax, for hi > lo).
func minMaxDense(dst, tau []float32, lo, hi float32) {
	nv := len(tau) &^ 7
	if !useAVX2 || nv == 0 || !(hi > lo) {
		minMax(dst, tau, lo, hi)
		return
	}
	_ = dst[len(tau)-1]
	minMaxDenseAVX2(&dst[0], &tau[0], nv, lo, hi, hi-lo)
	minMax(dst[nv:], tau[nv:], lo, hi)
}

//go:noescape
func weighDenseAVX2(v, B, tau *float32, n int, thr, span, w, lo, hi float32)

// weighDense is weighDenseGeneric, in AVX2 where the CPU has it.
func weighDense(v, B, tau []float32, s taskStats, w float32) {
	nv := len(B) &^ 7
	if !useAVX2 || nv == 0 || !(s.max > s.thr) {
		weighDenseGeneric(v, B, tau, s, w)
		return
	}
	_, _ = v[len(B)-1], tau[len(B)-1]
	weighDenseAVX2(&v[0], &B[0], &tau[0], nv, s.thr, s.max-s.thr, w, s.lo, s.hi)
	weighDenseGeneric(v[nv:], B[nv:], tau[nv:len(B)], s, w)
}

//go:noescape
func finishMergeAVX2(out, num, den, base *float32, n int, lambda float32)

// finishMerge sets out = base + λ·num/max(den, 1e-12) (out may alias num).
func finishMerge(out, num, den, base []float32, lambda float32) {
	nv := len(out) &^ 7
	if !useAVX2 || nv == 0 {
		finishMergeGeneric(out, num, den, base, lambda)
		return
	}
	_, _, _ = num[len(out)-1], den[len(out)-1], base[len(out)-1]
	finishMergeAVX2(&out[0], &num[0], &den[0], &base[0], nv, lambda)
	finishMergeGeneric(out[nv:], num[nv:len(out)], den[nv:len(out)], base[nv:len(out)], lambda)
}

//go:noescape
func clipTallyAVX2(m1, m2 *uint8, tau, sum *float32, n int, bands *[4]uint32, acc *[7][8]int32)

// clipTally is clipTallyGeneric, in AVX2 where the CPU has it.
func clipTally(m1, m2 []uint8, tau, sum []float32, b1, b2 keyBand) (counts [7]int) {
	if !useAVX2 || len(tau) == 0 {
		return clipTallyGeneric(m1, m2, tau, sum, b1, b2)
	}
	_, _, _ = m1[len(tau)/8-1], m2[len(tau)/8-1], sum[len(tau)-1]
	bands := [4]uint32{b1.lo, b1.hi, b2.lo, b2.hi}
	var acc [7][8]int32
	clipTallyAVX2(&m1[0], &m2[0], &tau[0], &sum[0], len(tau), &bands, &acc)
	for i, lanes := range acc {
		for _, v := range lanes {
			counts[i] += int(v)
		}
	}
	return counts
}

//go:noescape
func maskListAMD64(idx *int32, dx, dtau, tau, sum *float32, words *uint64, nwords int) int

// maskCompact is maskCompactGeneric, reading the bits 64 at a time and
// visiting only the set ones (the candidates are sparse).
func maskCompact(idx []int32, dx, dtau, tau, sum []float32, in []uint8) int {
	nw := len(tau) / 64
	if nw == 0 {
		return maskCompactGeneric(idx, dx, dtau, tau, sum, in)
	}
	_, _, _, _, _ = idx[len(tau)-1], dx[len(tau)-1], dtau[len(tau)-1], sum[len(tau)-1], in[8*nw-1]
	c := maskListAMD64(&idx[0], &dx[0], &dtau[0], &tau[0], &sum[0], (*uint64)(unsafe.Pointer(&in[0])), nw)
	return c + maskCompactTail(idx[c:], dx[c:], dtau[c:], tau, sum, in, 64*nw)
}

//go:noescape
func finishMergeZeroAVX2(out, num, den, base *float32, n int, lambda float32)

// finishMergeZero is finishMerge that leaves num and den zero (out must
// not alias them).
func finishMergeZero(out, num, den, base []float32, lambda float32) {
	nv := len(out) &^ 7
	if !useAVX2 || nv == 0 {
		finishMergeZeroGeneric(out, num, den, base, lambda)
		return
	}
	_, _, _ = num[len(out)-1], den[len(out)-1], base[len(out)-1]
	finishMergeZeroAVX2(&out[0], &num[0], &den[0], &base[0], nv, lambda)
	finishMergeZeroGeneric(out[nv:], num[nv:len(out)], den[nv:len(out)], base[nv:len(out)], lambda)
}

//go:noescape
func deltas4BF16AVX2(taus *[4]*float32, sum *float32, models *[4]*uint16, base *uint16, tasks, n int)

//go:noescape
func deltasBF16AVX2(taus *uintptr, sum *float32, models *uintptr, base *uint16, tasks, n int)

// deltasBF16 sets every τ_k = model_k − base (bf16 widened exactly) and
// sum = Σ_k τ_k added in task order, as deltaBF16 task by task does, in one
// sweep; addrs is scratch for 2·len(taus) addresses. The rows must be heap
// memory that stays referenced (the addresses are passed as integers).
func deltasBF16(taus [][]float32, sum []float32, models [][]uint16, base []uint16, addrs []uintptr) {
	n := len(base)
	nv := n &^ 7
	if !useAVX2 || nv == 0 || len(taus) == 0 {
		for k := range taus {
			deltaBF16Generic(taus[k], sum, models[k], base, k == 0)
		}
		return
	}
	tp, mp := addrs[:len(taus)], addrs[len(taus):2*len(taus)]
	for k := range taus {
		_, _ = taus[k][n-1], models[k][n-1]
		tp[k] = uintptr(unsafe.Pointer(&taus[k][0]))
		mp[k] = uintptr(unsafe.Pointer(&models[k][0]))
	}
	_ = sum[n-1]
	if len(taus) <= 4 {
		var t4 [4]*float32
		var m4 [4]*uint16
		for k := range 4 {
			j := min(k, len(taus)-1) // unused slots repeat the last row
			t4[k], m4[k] = &taus[j][0], &models[j][0]
		}
		deltas4BF16AVX2(&t4, &sum[0], &m4, &base[0], len(taus), nv)
	} else {
		deltasBF16AVX2(&tp[0], &sum[0], &mp[0], &base[0], len(taus), nv)
	}
	runtime.KeepAlive(taus)
	runtime.KeepAlive(models)
	for k := range taus {
		deltaBF16Generic(taus[k][nv:n], sum[nv:n], models[k][nv:n], base[nv:n], k == 0)
	}
}

//go:noescape
func tanhMaskAVX2(mask *uint8, x *float32, n int)

// tanhMask is tanhMaskGeneric, in AVX2 where the CPU has it.
func tanhMask(mask []uint8, x []float32) {
	if !useAVX2 || len(x) == 0 {
		tanhMaskGeneric(mask, x)
		return
	}
	_ = mask[len(x)/8-1]
	tanhMaskAVX2(&mask[0], &x[0], len(x))
}
