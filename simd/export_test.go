package simd

// Implementations returns the level names of every registered implementation,
// for tests outside the package.
func Implementations() []string {
	var s []string
	for _, k := range registry {
		s = append(s, k.level)
	}
	return s
}
