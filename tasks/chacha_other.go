//go:build !amd64 || purego

package tasks

func chachaMask(s *chachaStream, bits []byte, iters int, thr uint32) {
	chachaMaskGeneric(s, bits, iters, thr)
}
