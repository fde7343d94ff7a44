// Package tasks implements the task-arithmetic family of merge methods with
// mergekit's semantics: task_arithmetic, ties, dare_linear, dare_ties,
// breadcrumbs, breadcrumbs_ties, della, della_linear and sce.
//
// Every method works on task vectors δ_k = x_k − base, tensor by tensor and
// chunk by chunk: a method never holds a whole tensor. Exact top-k
// thresholds (TIES, Breadcrumbs, SCE) come from a two-pass radix selection
// over the bit patterns of |δ|, ties at a threshold being kept in position
// order; random masks (DARE, DELLA) come from per-(seed, tensor, model,
// chunk) streams; norms are summed per chunk in float64 and combined in
// chunk order. Results are therefore byte-identical for any thread count.
package tasks

import "github.com/gomerge/gomerge/merge"

// Methods returns the merge methods of this package.
func Methods() []*merge.MethodSpec {
	return []*merge.MethodSpec{
		taskArithmeticSpec(),
		tiesSpec(),
		dareLinearSpec(),
		dareTiesSpec(),
		breadcrumbsSpec(false),
		breadcrumbsSpec(true),
		dellaSpec(true),
		dellaSpec(false),
		sceSpec(),
	}
}

var (
	weightParam = merge.ParamSpec{Name: "weight", Kind: merge.Float, Required: true, PerModel: true,
		Help: "scale of the model's task vector (x − base)"}
	densityParam = merge.ParamSpec{Name: "density", Kind: merge.Float, Default: 1.0, PerModel: true,
		Help: "fraction of the task vector's entries kept, per tensor (1: no pruning)"}
	gammaParam = merge.ParamSpec{Name: "gamma", Kind: merge.Float, Default: 0.01, PerModel: true,
		Help: "fraction of the largest-magnitude entries removed as outliers"}
	epsilonParam = merge.ParamSpec{Name: "epsilon", Kind: merge.Float, Default: 0.15, PerModel: true,
		Help: "spread of the keep probabilities: density ± epsilon from the smallest to the largest entry of a row"}
	int8MaskParam = merge.ParamSpec{Name: "int8_mask", Kind: merge.Bool, Default: false,
		Help: "accepted for mergekit recipes; it only saves GPU memory there and changes no number"}
	lambdaParam = merge.ParamSpec{Name: "lambda", Kind: merge.Float, Default: 1.0,
		Help: "scale of the merged task vector before it is added to the base"}
	signParam = merge.ParamSpec{Name: "sign", Kind: merge.String, Default: "sum", Choices: []string{"sum", "unweighted"},
		Help: "sign election: sum (mergekit: sign of Σ w·δ) or unweighted (TIES paper: sign of Σ δ); an exact zero elects +"}
	scopeParam = merge.ParamSpec{Name: "scope", Kind: merge.String, Default: "tensor", Choices: []string{"tensor", "model"},
		Help: "top-k per tensor (mergekit) or over the whole model per model (TIES paper; density and gamma must then be the same for every tensor)"}
)

func normalizeParam(def bool) merge.ParamSpec {
	return merge.ParamSpec{Name: "normalize", Kind: merge.Bool, Default: def,
		Help: "divide the merged task vector by the sum of the weights (of the models agreeing with the elected sign, for sign-consensus methods)"}
}

func rescaleParam(def bool, exact bool) merge.ParamSpec {
	p := merge.ParamSpec{Name: "rescale", Kind: merge.String, Default: boolString(def), Choices: []string{"true", "false"},
		Help: "true: scale each pruned task vector so its L1 norm is unchanged (mergekit)"}
	if exact {
		p.Choices = append(p.Choices, "exact")
		p.Help += "; exact: divide every kept entry by its keep probability (the papers)"
	}
	return p
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// globals lists the global parameters of a method of the family.
func globals(v variant, extra ...merge.ParamSpec) []merge.ParamSpec {
	exact := v.sparse == sparseRandom || v.sparse == sparseDella
	ps := []merge.ParamSpec{int8MaskParam, normalizeParam(v.normalize), rescaleParam(v.rescale, exact), lambdaParam}
	return append(ps, extra...)
}

func gtaSpec(v variant, aliases []string, summary, long string, perModel []merge.ParamSpec, extra ...merge.ParamSpec) *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:       v.name,
		Aliases:    aliases,
		Summary:    summary,
		Long:       long,
		Base:       merge.BaseRequired,
		MinModels:  1,
		Params:     append(perModel, globals(v, extra...)...),
		TaskVector: true,
		New: func(g merge.Params) (merge.Method, error) {
			return newGTA(v, g)
		},
	}
}

const commonNotes = `All arithmetic is float32 with float64 norms; the result is cast to the
base's dtype (or --dtype). Parameters may differ per model (comma lists) and, in
recipes, per tensor (gradients, filters).`

func taskArithmeticSpec() *merge.MethodSpec {
	v := variant{name: "task_arithmetic"}
	return gtaSpec(v, []string{"task-arithmetic", "ta"},
		"Task arithmetic: add weighted task vectors to the base",
		`Computes base + λ·Σ_k w_k·(x_k − base) (divided by Σ w_k with --normalize).
Paper: Ilharco et al., "Editing Models with Task Arithmetic" (ICLR 2023).

Example:
  gomerge task-arithmetic --base base/ math/ code/ --weight 0.7,0.5 -o merged/

`+commonNotes,
		[]merge.ParamSpec{weightParam})
}

func tiesSpec() *merge.MethodSpec {
	v := variant{name: "ties", sparse: sparseMagnitude, consensus: true, normalize: true}
	return gtaSpec(v, []string{"ties-merging"},
		"TIES: trim task vectors to their largest entries, elect signs, average the agreeing ones",
		`For every model, keep the ⌊density·n⌋ entries of the task vector with the
largest magnitude (per tensor); elect each position's sign as the sign of
Σ w_k·δ_k (an exact zero elects +); sum the weighted entries that agree with it
and, with --normalize (default on), divide by the weights of the agreeing
models. Paper: Yadav et al., "TIES-Merging: Resolving Interference When
Merging Models" (NeurIPS 2023).

Example:
  gomerge ties --base base/ math/ code/ --weight 1,0.5 --density 0.5 -o merged/

Where gomerge differs from mergekit:
  - entries tied at the threshold are kept in position order (mergekit's
    argsort picks arbitrarily among them);
  - a density keeping no entry (⌊density·n⌋ = 0) gives a zero task vector with
    a warning instead of a crash;
  - --scope model takes one top-k over the whole model per model, as the paper
    does; --sign unweighted elects signs from the unweighted sum, as the
    paper's code does.

`+commonNotes,
		[]merge.ParamSpec{weightParam, densityParam}, signParam, scopeParam)
}

func dareLinearSpec() *merge.MethodSpec {
	v := variant{name: "dare_linear", sparse: sparseRandom, rescale: true}
	return gtaSpec(v, []string{"dare-linear"},
		"DARE: randomly drop task-vector entries, rescale, add to the base",
		`Keeps each entry of each task vector with probability density (a Bernoulli
mask from the --seed stream of the tensor, model and chunk), rescales the
kept entries and adds the weighted sum to the base. Paper: Yu et al.,
"Language Models are Super Mario: Absorbing Abilities from Homologous Models
as a Free Lunch" (ICML 2024).

Example:
  gomerge dare-linear --base base/ math/ code/ --weight 0.5,0.5 --density 0.3 --seed 1 -o merged/

--rescale true (default) is mergekit's: each pruned tensor is scaled so its L1
norm is unchanged. --rescale exact is the paper's: each kept entry is divided
by the keep probability (the two agree only in expectation). The random
streams are gomerge's own, so masks differ from mergekit's torch masks; the
same --seed always gives byte-identical output. A density of 0 gives a zero
task vector with a warning.

`+commonNotes,
		[]merge.ParamSpec{weightParam, densityParam})
}

func dareTiesSpec() *merge.MethodSpec {
	v := variant{name: "dare_ties", sparse: sparseRandom, consensus: true, rescale: true}
	return gtaSpec(v, []string{"dare-ties"},
		"DARE-TIES: random drop and rescale, then TIES sign election",
		`DARE's random pruning and rescaling of each task vector (see dare-linear),
followed by TIES's sign election (sign of Σ w_k·δ_k, exact zero elects +) and
sum of the agreeing weighted entries. --normalize is off by default, as in
mergekit. Papers: Yu et al. 2024 (DARE), Yadav et al. 2023 (TIES).

Example:
  gomerge dare-ties --base base/ math/ code/ --weight 0.6,0.4 --density 0.5 -o merged/

--rescale exact divides kept entries by the keep probability (the paper)
instead of matching the L1 norm (mergekit). --sign unweighted elects from the
unweighted sum.

`+commonNotes,
		[]merge.ParamSpec{weightParam, densityParam}, signParam)
}

func breadcrumbsSpec(ties bool) *merge.MethodSpec {
	v := variant{name: "breadcrumbs", sparse: sparseOutliers}
	aliases := []string{"model-breadcrumbs"}
	summary := "Model Breadcrumbs: drop the largest outliers and the smallest entries of each task vector"
	extra := []merge.ParamSpec{scopeParam}
	if ties {
		v = variant{name: "breadcrumbs_ties", sparse: sparseOutliers, consensus: true}
		aliases = []string{"breadcrumbs-ties"}
		summary = "Model Breadcrumbs pruning followed by TIES sign election"
		extra = []merge.ParamSpec{signParam, scopeParam}
	}
	consensus := ""
	if ties {
		consensus = `
then elects each position's sign from Σ w_k·δ_k (exact zero elects +) and sums
the agreeing entries (--normalize off by default, as in mergekit),`
	}
	return gtaSpec(v, aliases, summary,
		`For every model and tensor of n entries, removes the ⌊gamma·n⌋ entries of
largest magnitude (outliers) and then the smallest ones, keeping ⌊density·n⌋
entries (fewer outliers are removed if both cannot be met),`+consensus+`
and adds the weighted task vectors to the base. Paper: Davari & Belilovsky,
"Model Breadcrumbs: Scaling Multi-Task Model Merging with Sparse Masks"
(ECCV 2024).

Example:
  gomerge `+kebabName(v.name)+` --base base/ math/ code/ --weight 1,1 --density 0.9 --gamma 0.01 -o merged/

Where gomerge differs from mergekit: when ⌊gamma·n⌋ = 0 (gamma 0, or tensors
of fewer than 1/gamma entries such as norms and biases at gamma 0.01)
mergekit's slice is empty and prunes the whole task vector; gomerge keeps the
intended ⌊density·n⌋ largest entries. A density keeping no entry gives a zero
task vector with a warning instead of a crash. Entries tied at a threshold are
taken in position order.

`+commonNotes,
		[]merge.ParamSpec{weightParam, densityParam, gammaParam}, extra...)
}

func kebabName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == '_' {
			b[i] = '-'
		}
	}
	return string(b)
}

func dellaSpec(ties bool) *merge.MethodSpec {
	v := variant{name: "della", sparse: sparseDella, consensus: true, normalize: true, rescale: true}
	aliases := []string{"della-ties"}
	summary := "DELLA: magnitude-ranked random drop, rescale, TIES sign election"
	extra := []merge.ParamSpec{signParam}
	consensus := `, elects signs as TIES does (sign of Σ w_k·δ_k, exact
zero elects +) and averages the agreeing entries (--normalize on by default)`
	if !ties {
		v = variant{name: "della_linear", sparse: sparseDella, rescale: true}
		aliases = []string{"della-linear"}
		summary = "DELLA pruning without sign election: magnitude-ranked random drop, rescale, add"
		extra = nil
		consensus = ` and adds the weighted task vectors to the base`
	}
	return gtaSpec(v, aliases, summary,
		`Within every row of every task vector (a 1-D tensor is one row), the entry of
ascending magnitude rank r of n is kept with probability
(density − epsilon) + 2·epsilon·(r − 1)/(n − 1), so large entries survive more
often; kept entries are rescaled; the method then`+consensus+`.
Paper: Deep et al., "DELLA-Merging: Reducing Interference in Model Merging
through Magnitude-Based Sampling" (2024).

Example:
  gomerge `+kebabName(v.name)+` --base base/ math/ code/ --weight 1,1 --density 0.5 --epsilon 0.1 -o merged/

density ± epsilon must lie in (0, 1) when density < 1. --rescale true
(default) matches each tensor's L1 norm (mergekit); --rescale exact divides
each kept entry by its own keep probability (the paper). Where gomerge
differs from mergekit: a row of one entry is kept with probability density
(mergekit divides 0 by 0); tied magnitudes are ranked in position order; the
random streams are gomerge's own (same --seed, same bytes).

`+commonNotes,
		[]merge.ParamSpec{weightParam, densityParam, epsilonParam}, extra...)
}

func sceSpec() *merge.MethodSpec {
	return &merge.MethodSpec{
		Name:    "sce",
		Summary: "SCE: select high-variance positions, weight models by task-vector energy, erase minority signs",
		Long: `Task vectors T_k = x_k − base. With select_topk < 1, only the
⌊select_topk · (number of positions with non-zero variance)⌋ positions whose
variance across the models is largest are kept (the same positions for every
model). Each model is weighted by the mean square of its (selected) task
vector, normalised to sum 1; each position's sign is elected from the
unweighted Σ T_k and the agreeing entries are averaged with those weights.
Paper: Wan et al., "FuseChat: Knowledge Fusion of Chat Models" (2024).

Example:
  gomerge sce --base base/ a/ b/ c/ --select-topk 0.1 -o merged/

Positions tied at the variance threshold are kept in position order. There
is no per-model weight.

` + commonNotes,
		Base:      merge.BaseRequired,
		MinModels: 1,
		Params: []merge.ParamSpec{
			{Name: "select_topk", Kind: merge.Float, Default: 1.0, Help: "fraction of the non-zero-variance positions kept (1: all)"},
			int8MaskParam,
		},
		TaskVector: true,
		New:        newSCE,
	}
}
