package analyze

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/gomerge/gomerge/formats"
)

// Num is a float64 that encodes NaN and ±Inf as JSON null.
type Num float64

// MarshalJSON implements json.Marshaler.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// Stat is the statistics of one group of elements of one expert: the raw
// sums and the derived numbers.
type Stat struct {
	Sums
	// MeanAbs = Σ|Δ|/n.
	MeanAbs Num `json:"mean_abs_delta"`
	// Rel = ‖Δ‖_F/‖θ₀‖_F.
	Rel Num `json:"relative_change"`
	// ZeroFrac is the fraction of elements with |Δ| < ZeroTol·rms(θ₀).
	ZeroFrac Num `json:"near_zero_fraction"`
}

// MarshalJSON implements json.Marshaler: the raw sums, like the derived
// numbers, encode NaN and ±Inf (inputs that hold them, or changes that
// overflow) as null instead of failing.
func (s Stat) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N         int64 `json:"elements"`
		SumAbs    Num   `json:"sum_abs_delta"`
		SumSq     Num   `json:"sum_sq_delta"`
		BaseSumSq Num   `json:"sum_sq_base"`
		NearZero  int64 `json:"near_zero"`
		MeanAbs   Num   `json:"mean_abs_delta"`
		Rel       Num   `json:"relative_change"`
		ZeroFrac  Num   `json:"near_zero_fraction"`
	}{s.N, Num(s.SumAbs), Num(s.SumSq), Num(s.BaseSumSq), s.NearZero, s.MeanAbs, s.Rel, s.ZeroFrac})
}

func newStat(s Sums) Stat {
	return Stat{Sums: s, MeanAbs: Num(s.MeanAbs()), Rel: Num(s.Rel()), ZeroFrac: Num(s.ZeroFrac())}
}

// Group is the statistics of one layer (or of the tensors outside the layer
// stack): in total and per module type.
type Group struct {
	// Layer is the layer index, −1 for the non-layer tensors.
	Layer   int             `json:"layer"`
	Total   Stat            `json:"total"`
	Modules map[string]Stat `json:"modules"`
}

// ExpertReport is the analysis of one expert.
type ExpertReport struct {
	Model    string  `json:"model"`
	Layers   []Group `json:"layers"`
	NonLayer Group   `json:"non_layer"`
	Total    Stat    `json:"total"`
}

// PairStat compares two experts over one group of elements.
type PairStat struct {
	Layer int `json:"layer"`
	PairSums
	// Cos is the cosine similarity of the task vectors.
	Cos Num `json:"cosine"`
	// ConflictRate is the fraction of elements changed by both whose
	// changes have opposite signs.
	ConflictRate Num `json:"sign_conflict_rate"`
}

// MarshalJSON implements json.Marshaler, encoding NaN and ±Inf as null
// (see Stat.MarshalJSON).
func (p PairStat) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Layer        int   `json:"layer"`
		Dot          Num   `json:"dot"`
		SqA          Num   `json:"sum_sq_a"`
		SqB          Num   `json:"sum_sq_b"`
		Both         int64 `json:"both_nonzero"`
		Conflicts    int64 `json:"sign_conflicts"`
		Cos          Num   `json:"cosine"`
		ConflictRate Num   `json:"sign_conflict_rate"`
	}{p.Layer, Num(p.Dot), Num(p.SqA), Num(p.SqB), p.Both, p.Conflicts, p.Cos, p.ConflictRate})
}

func newPairStat(layer int, p PairSums) PairStat {
	return PairStat{Layer: layer, PairSums: p, Cos: Num(p.Cos()), ConflictRate: Num(p.ConflictRate())}
}

// PairReport compares experts A and B (indices into Report.Experts).
type PairReport struct {
	A        int        `json:"a"`
	B        int        `json:"b"`
	Layers   []PairStat `json:"layers"`
	NonLayer PairStat   `json:"non_layer"`
	Total    PairStat   `json:"total"`
}

// Suggestion is the layer-swap split suggested for two experts.
type Suggestion struct {
	// Task and Lang are the experts' indices.
	Task int `json:"task"`
	Lang int `json:"lang"`
	// TaskCurve and LangCurve are Ā_{e,l}: each expert's per-layer mean
	// |Δ| normalised to sum 1.
	TaskCurve []Num `json:"task_curve"`
	LangCurve []Num `json:"lang_curve"`
	// Pi is π_l = Ā_L/(Ā_L + Ā_T).
	Pi []Num `json:"pi"`
	// Bottom (b) and Top (u): the longest prefix and suffix with π > ½.
	Bottom int `json:"bottom"`
	Top    int `json:"top"`
	// Command is the gomerge layerswap command applying the split.
	Command string `json:"command"`
	// Note explains a degenerate split.
	Note string `json:"note,omitempty"`
}

// Report is the result of an analysis.
type Report struct {
	Base    string   `json:"base"`
	Experts []string `json:"experts"`
	// Layers is the number of transformer layers seen.
	Layers int `json:"layers"`
	// Modules lists the module types present, in report order.
	Modules []string `json:"modules"`
	// ZeroTol is the near-zero tolerance: |Δ| < ZeroTol·rms(θ₀).
	ZeroTol    float64        `json:"near_zero_tolerance"`
	Stats      []ExpertReport `json:"expert_stats"`
	Pairs      []PairReport   `json:"pairs"`
	Suggestion *Suggestion    `json:"suggestion,omitempty"`
	// Skipped lists the tensors left out, with the reason.
	Skipped []string `json:"skipped"`
}

func buildReport(base *formats.Model, experts []*formats.Model, jobs []*tensorJob, layers int, tol float64, lang int, skipped []string) *Report {
	ne := len(experts)
	np := ne * (ne - 1) / 2
	r := &Report{Base: base.Path, Layers: layers, ZeroTol: tol, Skipped: skipped}
	if r.Skipped == nil {
		r.Skipped = []string{}
	}
	for _, e := range experts {
		r.Experts = append(r.Experts, e.Path)
	}
	// Accumulate in tensor-name order, each tensor's chunks in order.
	type cellKey struct {
		layer  int
		module string
	}
	cells := make([]map[cellKey]*Sums, ne)
	layerTot := make([][]Sums, ne)
	var nonLayerTot, total = make([]Sums, ne), make([]Sums, ne)
	for k := range cells {
		cells[k] = map[cellKey]*Sums{}
		layerTot[k] = make([]Sums, layers)
	}
	pairLayer := make([][]PairSums, np)
	pairNon, pairTot := make([]PairSums, np), make([]PairSums, np)
	for p := range pairLayer {
		pairLayer[p] = make([]PairSums, layers)
	}
	present := map[string]bool{}
	for _, j := range jobs {
		present[j.module] = true
		for k := 0; k < ne; k++ {
			var t Sums
			for c := range j.chunks {
				t.add(j.sums[c][k])
			}
			if j.experts[k] == nil {
				continue
			}
			key := cellKey{j.layer, j.module}
			if cells[k][key] == nil {
				cells[k][key] = &Sums{}
			}
			cells[k][key].add(t)
			if j.layer >= 0 {
				layerTot[k][j.layer].add(t)
			} else {
				nonLayerTot[k].add(t)
			}
			total[k].add(t)
		}
		for p := 0; p < np; p++ {
			var t PairSums
			for c := range j.chunks {
				t.add(j.pairs[c][p])
			}
			if j.layer >= 0 {
				pairLayer[p][j.layer].add(t)
			} else {
				pairNon[p].add(t)
			}
			pairTot[p].add(t)
		}
	}
	for _, m := range moduleOrder {
		if present[m] {
			r.Modules = append(r.Modules, m)
		}
	}
	group := func(k, layer int, tot Sums) Group {
		g := Group{Layer: layer, Total: newStat(tot), Modules: map[string]Stat{}}
		for _, m := range r.Modules {
			if s := cells[k][cellKey{layer, m}]; s != nil {
				g.Modules[m] = newStat(*s)
			}
		}
		return g
	}
	for k := 0; k < ne; k++ {
		er := ExpertReport{Model: r.Experts[k], NonLayer: group(k, -1, nonLayerTot[k]), Total: newStat(total[k])}
		for l := 0; l < layers; l++ {
			er.Layers = append(er.Layers, group(k, l, layerTot[k][l]))
		}
		r.Stats = append(r.Stats, er)
	}
	p := 0
	for a := 0; a < ne; a++ {
		for b := a + 1; b < ne; b++ {
			pr := PairReport{A: a, B: b, NonLayer: newPairStat(-1, pairNon[p]), Total: newPairStat(-1, pairTot[p])}
			for l := 0; l < layers; l++ {
				pr.Layers = append(pr.Layers, newPairStat(l, pairLayer[p][l]))
			}
			r.Pairs = append(r.Pairs, pr)
			p++
		}
	}
	if ne == 2 && layers > 0 {
		task := 1 - lang
		curve := func(k int) []float64 {
			c := make([]float64, layers)
			for l := range c {
				c[l] = layerTot[k][l].MeanAbs()
			}
			return c
		}
		r.Suggestion = suggest(curve(lang), curve(task))
		r.Suggestion.Task, r.Suggestion.Lang = task, lang
		if r.Suggestion.Note == "" || r.Suggestion.Bottom+r.Suggestion.Top < layers {
			r.Suggestion.Command = fmt.Sprintf("gomerge layerswap --task %s --lang %s --bottom %d --top %d -o OUT",
				shellQuote(r.Experts[task]), shellQuote(r.Experts[lang]), r.Suggestion.Bottom, r.Suggestion.Top)
		}
	}
	return r
}

// Suggest applies the split rule of the spec to per-layer change curves
// A_{L,l} (language expert) and A_{T,l} (task expert): both are normalised
// to sum 1, π_l = Ā_L/(Ā_L + Ā_T), b is the longest prefix with π > ½ and u
// the longest suffix of the remaining layers with π > ½. It returns π, b
// and u.
func Suggest(lang, task []float64) (pi []float64, bottom, top int) {
	s := suggest(lang, task)
	pi = make([]float64, len(s.Pi))
	for i, v := range s.Pi {
		pi[i] = float64(v)
	}
	return pi, s.Bottom, s.Top
}

func suggest(lang, task []float64) *Suggestion {
	norm := func(c []float64) []float64 {
		var sum float64
		for _, v := range c {
			if !math.IsNaN(v) {
				sum += v
			}
		}
		out := make([]float64, len(c))
		for i, v := range c {
			if sum > 0 && !math.IsNaN(v) {
				out[i] = v / sum
			}
		}
		return out
	}
	nl, nt := norm(lang), norm(task)
	s := &Suggestion{}
	pi := make([]float64, len(nl))
	for l := range pi {
		pi[l] = math.NaN()
		if d := nl[l] + nt[l]; d > 0 {
			pi[l] = nl[l] / d
		}
		s.LangCurve = append(s.LangCurve, Num(nl[l]))
		s.TaskCurve = append(s.TaskCurve, Num(nt[l]))
		s.Pi = append(s.Pi, Num(pi[l]))
	}
	for s.Bottom < len(pi) && pi[s.Bottom] > 0.5 {
		s.Bottom++
	}
	for s.Top < len(pi)-s.Bottom && pi[len(pi)-1-s.Top] > 0.5 {
		s.Top++
	}
	switch {
	case len(pi) > 0 && s.Bottom == len(pi):
		s.Note = "the language expert changed every layer relatively more than the task expert; layer swapping would return the language expert"
	case s.Bottom == 0 && s.Top == 0:
		s.Note = "neither the first nor the last layer changed relatively more in the language expert than in the task expert; the rule swaps no layers"
	}
	return s
}

// shellQuote quotes a path for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:+=@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// WriteJSON writes the report as indented JSON (a stable format for
// scripts: field names are fixed, maps have sorted keys, NaN is null).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func fmtNum(v Num, format string) string {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "—"
	}
	return fmt.Sprintf(format, f)
}

func fmtPct(v Num) string {
	f := float64(v)
	if math.IsNaN(f) {
		return "—"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + "%"
}

// pad right-aligns s in width runes.
func pad(s string, width int) string {
	if n := len([]rune(s)); n < width {
		return strings.Repeat(" ", width-n) + s
	}
	return s
}

// WriteText writes the report as readable tables and a per-layer bar chart.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "base %s, %d expert(s), %d layers; Δ = expert − base; near-zero: |Δ| < %g·rms(θ₀)\n",
		r.Base, len(r.Experts), r.Layers, r.ZeroTol)
	layerMods, nonMods := r.moduleSplit()
	for k, er := range r.Stats {
		fmt.Fprintf(w, "\nexpert %d: %s\n", k+1, er.Model)
		fmt.Fprintf(w, "%-8s %10s %10s %7s", "layer", "mean|Δ|", "‖Δ‖/‖θ₀‖", "near-0")
		for _, m := range layerMods {
			fmt.Fprintf(w, " %9s", m)
		}
		fmt.Fprintf(w, "   (mean|Δ| per module)\n")
		row := func(label string, s Stat, g *Group) {
			fmt.Fprintf(w, "%-8s %10s %10s %7s", label, fmtNum(s.MeanAbs, "%.3e"), fmtNum(s.Rel, "%.3e"), fmtPct(s.ZeroFrac))
			if g != nil {
				for _, m := range layerMods {
					if ms, ok := g.Modules[m]; ok {
						fmt.Fprintf(w, " %9s", fmtNum(ms.MeanAbs, "%.2e"))
					} else {
						fmt.Fprintf(w, " %9s", "")
					}
				}
			}
			fmt.Fprintln(w)
		}
		for i := range er.Layers {
			row(strconv.Itoa(i), er.Layers[i].Total, &er.Layers[i])
		}
		for _, m := range nonMods {
			if s, ok := er.NonLayer.Modules[m]; ok {
				row(m, s, nil)
			}
		}
		row("all", er.Total, nil)
	}
	r.writeBars(w)
	for _, p := range r.Pairs {
		fmt.Fprintf(w, "\nexperts %d and %d: cosine of task vectors, sign conflicts (of elements both changed)\n", p.A+1, p.B+1)
		fmt.Fprintf(w, "%-9s %9s %10s\n", "layer", "cosine", "conflicts")
		for _, s := range p.Layers {
			fmt.Fprintf(w, "%-9d %9s %10s\n", s.Layer, fmtNum(s.Cos, "%.4f"), fmtPct(s.ConflictRate))
		}
		fmt.Fprintf(w, "%-9s %9s %10s\n", "non-layer", fmtNum(p.NonLayer.Cos, "%.4f"), fmtPct(p.NonLayer.ConflictRate))
		fmt.Fprintf(w, "%-9s %9s %10s\n", "all", fmtNum(p.Total.Cos, "%.4f"), fmtPct(p.Total.ConflictRate))
	}
	if s := r.Suggestion; s != nil {
		fmt.Fprintf(w, "\nlayer swap: task expert %d (%s), language expert %d (%s)\n", s.Task+1, r.Experts[s.Task], s.Lang+1, r.Experts[s.Lang])
		fmt.Fprintf(w, "%-8s %8s %8s %7s\n", "layer", "Ā_lang", "Ā_task", "π")
		for l := range s.Pi {
			mark := ""
			switch {
			case l < s.Bottom:
				mark = "  ← bottom (lang)"
			case l >= len(s.Pi)-s.Top:
				mark = "  ← top (lang)"
			}
			fmt.Fprintf(w, "%-8d %8s %8s %7s%s\n", l, fmtNum(s.LangCurve[l], "%.4f"), fmtNum(s.TaskCurve[l], "%.4f"), fmtNum(s.Pi[l], "%.3f"), mark)
		}
		fmt.Fprintf(w, "suggested: --bottom %d --top %d (longest prefix and suffix with π > ½)\n", s.Bottom, s.Top)
		if s.Note != "" {
			fmt.Fprintf(w, "note: %s\n", s.Note)
		}
		if s.Command != "" {
			fmt.Fprintf(w, "  %s\n", s.Command)
		}
	}
	if len(r.Skipped) > 0 {
		fmt.Fprintf(w, "\n%d tensor(s) skipped (see warnings)\n", len(r.Skipped))
	}
}

// moduleSplit returns the module types found inside layers and outside.
func (r *Report) moduleSplit() (layer, non []string) {
	inLayer, outside := map[string]bool{}, map[string]bool{}
	for _, er := range r.Stats {
		for _, g := range er.Layers {
			for m := range g.Modules {
				inLayer[m] = true
			}
		}
		for m := range er.NonLayer.Modules {
			outside[m] = true
		}
	}
	for _, m := range r.Modules {
		if inLayer[m] {
			layer = append(layer, m)
		}
		if outside[m] {
			non = append(non, m)
		}
	}
	return layer, non
}

// writeBars draws the per-layer mean |Δ| of every expert as horizontal bars,
// each expert scaled to its largest layer.
func (r *Report) writeBars(w io.Writer) {
	if r.Layers == 0 {
		return
	}
	const width = 40
	fmt.Fprintf(w, "\nper-layer mean |Δ| (each expert's bars scaled to its largest layer)\n")
	for k, er := range r.Stats {
		var peak float64
		for _, g := range er.Layers {
			if v := float64(g.Total.MeanAbs); !math.IsNaN(v) {
				peak = max(peak, v)
			}
		}
		fmt.Fprintf(w, "expert %d: %s\n", k+1, er.Model)
		for l, g := range er.Layers {
			v := float64(g.Total.MeanAbs)
			fmt.Fprintf(w, "  %3d │%-*s│ %s\n", l, width, bar(v, peak, width), fmtNum(g.Total.MeanAbs, "%.3e"))
		}
	}
}

// bar renders v/peak of width cells with eighth-block resolution.
func bar(v, peak float64, width int) string {
	if peak <= 0 || math.IsNaN(v) || v <= 0 {
		return ""
	}
	eighths := int(math.Round(v / peak * float64(width*8)))
	full, part := eighths/8, eighths%8
	s := strings.Repeat("█", full)
	if part > 0 {
		s += string([]rune("▏▎▍▌▋▊▉")[part-1])
	}
	return s
}
