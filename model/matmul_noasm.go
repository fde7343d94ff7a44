//go:build (!amd64 && !arm64) || purego

package model

func peakFMA(n int) {}

func hasPeakFMA() bool { return false }
