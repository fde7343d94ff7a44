package formats

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseSize parses a byte size as users write it: "5GB", "500MB", "2GiB",
// "1.5G", "1000". Decimal units (KB, MB, GB, TB; K, M, G, T; and B for
// billion, as in mergekit's "5B") are powers of 1000; binary units (KiB, MiB,
// GiB, TiB) powers of 1024. A bare number is bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"TIB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1e9},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t = strings.TrimSpace(strings.TrimSuffix(t, u.suffix))
			mult = u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || !(v >= 0 && v*mult <= 1<<62) {
		return 0, fmt.Errorf("invalid size %q (examples: 5GB, 500MB, 2GiB)", s)
	}
	return int64(v * mult), nil
}
