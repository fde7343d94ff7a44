//go:build !unix

package model

import "time"

// cpuTime is not available here: benchmarks report wall-time rates.
func cpuTime() time.Duration { return 0 }
