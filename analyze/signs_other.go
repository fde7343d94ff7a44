//go:build !amd64 || purego

package analyze

const haveSignCountAsm = false

func signCountAsm(x, y *float32, n int) (zeros, neg int) { panic("unreachable") }
