//go:build !amd64 || purego

package analyze

const haveDeltaAsm = false

func baseSquaresAsm(acc *lanes, b *uint16, n int) { panic("unreachable") }

func expertDeltasAsm(st *deltaLanes, d *float32, b, x *uint16, thr float32, n int) (ge int) {
	panic("unreachable")
}

func pairDeltasAsm(dot *lanes, x, y *float32, n int) (zeros, neg int) { panic("unreachable") }
