package analyze

import (
	"encoding/json"
	"math"
	"testing"
)

// TestStatJSON checks the JSON of the statistics: the field names and order
// of the raw sums and derived numbers, and null for NaN and ±Inf (inputs
// that hold them) instead of an encoding error.
func TestStatJSON(t *testing.T) {
	s := newStat(Sums{N: 4, SumAbs: 2, SumSq: 1.5, BaseSumSq: 6, NearZero: 1})
	got, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"elements":4,"sum_abs_delta":2,"sum_sq_delta":1.5,"sum_sq_base":6,"near_zero":1,"mean_abs_delta":0.5,"relative_change":0.5,"near_zero_fraction":0.25}`
	if string(got) != want {
		t.Errorf("Stat JSON\n got %s\nwant %s", got, want)
	}

	bad := newStat(Sums{N: 2, SumAbs: math.NaN(), SumSq: math.Inf(1), BaseSumSq: 1})
	got, err = json.Marshal(bad)
	if err != nil {
		t.Fatalf("NaN sums: %v", err)
	}
	want = `{"elements":2,"sum_abs_delta":null,"sum_sq_delta":null,"sum_sq_base":1,"near_zero":0,"mean_abs_delta":null,"relative_change":null,"near_zero_fraction":0}`
	if string(got) != want {
		t.Errorf("Stat JSON with NaN\n got %s\nwant %s", got, want)
	}

	p := newPairStat(3, PairSums{Dot: -1, SqA: 4, SqB: 1, Both: 8, Conflicts: 2})
	got, err = json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"layer":3,"dot":-1,"sum_sq_a":4,"sum_sq_b":1,"both_nonzero":8,"sign_conflicts":2,"cosine":-0.5,"sign_conflict_rate":0.25}`
	if string(got) != want {
		t.Errorf("PairStat JSON\n got %s\nwant %s", got, want)
	}
	p = newPairStat(0, PairSums{Dot: math.Inf(-1), SqA: math.Inf(1), SqB: 1})
	if got, err = json.Marshal(p); err != nil {
		t.Fatalf("Inf sums: %v", err)
	}
	want = `{"layer":0,"dot":null,"sum_sq_a":null,"sum_sq_b":1,"both_nonzero":0,"sign_conflicts":0,"cosine":null,"sign_conflict_rate":null}`
	if string(got) != want {
		t.Errorf("PairStat JSON with Inf\n got %s\nwant %s", got, want)
	}
}
