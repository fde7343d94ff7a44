//go:build !amd64 || purego

package tasks

func windowMulti(qs []windowArg, b []uint16) { windowMultiGeneric(qs, b) }
