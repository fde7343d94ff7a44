//go:build !amd64 || purego

package orderstat

// histAbsLow16Few is histAbsLow16FewGeneric (no assembly on this platform).
func histAbsLow16Few(hs *[4][]uint64, vals []float32, few *[4]int32) uint64 {
	return histAbsLow16FewGeneric(hs, vals, few)
}
