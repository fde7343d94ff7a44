package recipe

import (
	"fmt"
	"math"
	"strings"
)

// Setting is a parameter value as a recipe writes it: a scalar, a gradient
// (a list interpolated over the layer position) or a list of
// {filter, value} conditions.
type Setting struct {
	// Line is the recipe line of the value, for errors.
	Line int
	// Scalar is a float64, bool or string (when Gradient and Conds are nil).
	Scalar any
	// Gradient holds the list's values: float64s, or other scalars which are
	// indexed rather than interpolated.
	Gradient []any
	// Conds are filter conditions, the first match winning.
	Conds []Cond
}

// Cond is one {filter, value} entry. An empty filter or "*" matches every
// tensor; otherwise the filter matches tensor names containing it.
type Cond struct {
	Filter string
	Value  Setting
}

// Eval returns the setting's value for a tensor at layer position t in
// [0, 1] (mergekit's evaluate_setting): gradients interpolate linearly
// between neighbouring points at s = t·(K−1); lists of non-numbers take
// element ⌊t·(K−1)⌋; conditions return the first match's value. ok is false
// when no condition matches, so the caller falls through to the next
// precedence level.
func (s *Setting) Eval(tensor string, t float64) (v any, ok bool) {
	switch {
	case s.Conds != nil:
		for _, c := range s.Conds {
			if c.Filter == "" || c.Filter == "*" || strings.Contains(tensor, c.Filter) {
				return c.Value.Eval(tensor, t)
			}
		}
		return nil, false
	case s.Gradient != nil:
		return evalGradient(s.Gradient, t), true
	}
	return s.Scalar, true
}

func evalGradient(g []any, t float64) any {
	n := len(g)
	if n == 1 {
		return g[0]
	}
	nums := make([]float64, n)
	for i, v := range g {
		f, ok := v.(float64)
		if !ok {
			return g[int(t*float64(n-1))]
		}
		nums[i] = f
	}
	s := t * float64(n-1)
	i := int(math.Floor(s))
	if i >= n-1 {
		return nums[n-1]
	}
	if i < 0 {
		return nums[0]
	}
	frac := s - float64(i)
	return (1-frac)*nums[i] + frac*nums[i+1]
}

// LayerT returns the gradient position of local layer i in a slice of n
// layers: i/(n−1), or 1 when n = 1.
func LayerT(i, n int) float64 {
	if n <= 1 {
		return 1
	}
	return float64(i) / float64(n-1)
}

func (s *Setting) String() string {
	switch {
	case s.Conds != nil:
		parts := make([]string, len(s.Conds))
		for i, c := range s.Conds {
			parts[i] = fmt.Sprintf("{filter: %q, value: %s}", c.Filter, c.Value.String())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case s.Gradient != nil:
		return fmt.Sprint(s.Gradient)
	}
	return fmt.Sprint(s.Scalar)
}
