package cmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gomerge/gomerge/formats"
	"github.com/gomerge/gomerge/merge"
)

// mergeFlags are the flags of every per-method command besides the
// method's own parameters.
type mergeFlags struct {
	outputFlags
	Base    string
	Seed    uint64
	DryRun  bool
	Missing string
	Exclude []string
}

func (m *mergeFlags) register(c *cobra.Command) {
	m.outputFlags.registerOptional(c)
	f := c.Flags()
	f.StringVar(&m.Base, "base", "", "base model (default for methods that need one: the first model argument)")
	f.Uint64Var(&m.Seed, "seed", 0, "seed of the random streams (DARE, DELLA); the same seed gives byte-identical output")
	f.BoolVar(&m.DryRun, "dry-run", false, "print the plan (tensors, method, parameters, memory, output size) and exit")
	f.StringVar(&m.Missing, "missing", "error", "tensors some models lack: error, intersection (skip them) or union (merge what exists)")
	f.StringArrayVar(&m.Exclude, "exclude", nil, "regular expression of tensor names that keep the base's values (repeatable)")
	c.RegisterFlagCompletionFunc("base", completeModels)
}

func kebab(s string) string { return strings.ReplaceAll(s, "_", "-") }

// newMethodCmd builds the command of one merge method from its spec: one
// flag per parameter (per-model parameters take a comma-separated list, one
// value per model, or one value for all).
func newMethodCmd(g *Globals, spec *merge.MethodSpec) *cobra.Command {
	var mf mergeFlags
	vals := map[string]*string{}
	var aliases []string
	for _, a := range spec.Aliases {
		if a != kebab(spec.Name) {
			aliases = append(aliases, a)
		}
	}
	if kebab(spec.Name) != spec.Name {
		aliases = append(aliases, spec.Name)
	}
	c := &cobra.Command{
		Use:               kebab(spec.Name) + " [--base BASE] MODEL... -o OUT",
		Aliases:           aliases,
		Short:             spec.Summary,
		Long:              spec.Summary + "\n\n" + spec.Long + "\n\n" + paramHelp(spec),
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeModels,
		RunE: func(c *cobra.Command, args []string) error {
			global, perModel, err := collectParams(c, spec, vals)
			if err != nil {
				return err
			}
			return runMethod(c, g, spec, &mf, args, global, perModel)
		},
	}
	mf.register(c)
	for _, p := range spec.Params {
		v := new(string)
		vals[p.Name] = v
		usage := p.Help
		if p.PerModel {
			usage += " (per model: comma-separated, or one value for all)"
		}
		if p.Default != nil {
			usage += fmt.Sprintf(" [default %v]", p.Default)
		}
		if p.Required {
			usage += " [required]"
		}
		c.Flags().StringVar(v, kebab(p.Name), "", usage)
		for _, a := range p.Aliases {
			c.Flags().StringVar(v, kebab(a), "", usage)
			c.Flags().MarkHidden(kebab(a))
		}
	}
	return c
}

func paramHelp(spec *merge.MethodSpec) string {
	var b strings.Builder
	b.WriteString("Parameters (recipe name → flag):\n")
	for _, p := range spec.Params {
		scope := "global"
		if p.PerModel {
			scope = "per model"
		}
		def := "required"
		if !p.Required {
			def = fmt.Sprintf("default %v", p.Default)
		}
		fmt.Fprintf(&b, "  %-26s --%s (%s, %s): %s\n", p.Name, kebab(p.Name), scope, def, p.Help)
	}
	switch spec.Base {
	case merge.BaseRequired:
		b.WriteString("\nThe base model is --base, or the first model argument when --base is omitted.")
	case merge.BaseOptional:
		b.WriteString("\nWith --base the method works on task vectors (model − base).")
	}
	return b.String()
}

// parseValue converts a flag or recipe string to the parameter's kind.
func parseValue(p *merge.ParamSpec, s string) (any, error) {
	switch p.Kind {
	case merge.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: want true or false (write --%s true)", kebab(p.Name), s, kebab(p.Name))
		}
		return b, nil
	case merge.String:
		if len(p.Choices) > 0 {
			for _, c := range p.Choices {
				if c == s {
					return s, nil
				}
			}
			return nil, fmt.Errorf("--%s %q: want one of %s", kebab(p.Name), s, strings.Join(p.Choices, ", "))
		}
		return s, nil
	default:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("--%s %q: not a number", kebab(p.Name), s)
		}
		return v, nil
	}
}

func collectParams(c *cobra.Command, spec *merge.MethodSpec, vals map[string]*string) (merge.Params, []merge.Params, error) {
	global := merge.Params{}
	var perModelLists = map[string][]any{}
	for i := range spec.Params {
		p := &spec.Params[i]
		changed := c.Flags().Changed(kebab(p.Name))
		for _, a := range p.Aliases {
			changed = changed || c.Flags().Changed(kebab(a))
		}
		if !changed {
			continue
		}
		raw := *vals[p.Name]
		if !p.PerModel {
			v, err := parseValue(p, raw)
			if err != nil {
				return nil, nil, err
			}
			global[p.Name] = v
			continue
		}
		for _, part := range strings.Split(raw, ",") {
			v, err := parseValue(p, strings.TrimSpace(part))
			if err != nil {
				return nil, nil, err
			}
			perModelLists[p.Name] = append(perModelLists[p.Name], v)
		}
	}
	// Per-model lists become per-model Params once the model count is known.
	var perModel []merge.Params
	for name, list := range perModelLists {
		for k, v := range list {
			for len(perModel) <= k {
				perModel = append(perModel, merge.Params{})
			}
			perModel[k][name] = v
		}
	}
	return global, perModel, nil
}

// expandPerModel broadcasts single per-model values to every model and
// checks list lengths.
func expandPerModel(spec *merge.MethodSpec, perModel []merge.Params, n int) ([]merge.Params, error) {
	out := make([]merge.Params, n)
	for k := range out {
		out[k] = merge.Params{}
	}
	for _, p := range spec.Params {
		if !p.PerModel {
			continue
		}
		var list []any
		for _, pm := range perModel {
			if v, ok := pm[p.Name]; ok {
				list = append(list, v)
			}
		}
		switch {
		case len(list) == 0:
		case len(list) == 1:
			for k := range out {
				out[k][p.Name] = list[0]
			}
		case len(list) == n:
			for k := range out {
				out[k][p.Name] = list[k]
			}
		default:
			return nil, fmt.Errorf("--%s has %d values for %d models", kebab(p.Name), len(list), n)
		}
	}
	return out, nil
}

// requireParams reports the first required parameter no flag gave, once
// for the command rather than once per tensor and model.
func requireParams(spec *merge.MethodSpec, global merge.Params, perModel []merge.Params) error {
	for _, p := range spec.Params {
		if !p.Required {
			continue
		}
		given := false
		if p.PerModel {
			given = len(perModel) > 0 && perModel[0][p.Name] != nil
		} else {
			_, given = global[p.Name]
		}
		if !given {
			how := "one value"
			if p.PerModel {
				how = "one value for every model, or one per model, comma-separated"
			}
			return fmt.Errorf("%s: --%s is required: %s (%s)", spec.Name, kebab(p.Name), how, p.Help)
		}
	}
	return nil
}

func runMethod(c *cobra.Command, g *Globals, spec *merge.MethodSpec, mf *mergeFlags, args []string, global merge.Params, perModel []merge.Params) error {
	ctx := c.Context()
	paths := args
	basePath := mf.Base
	if basePath == "" && spec.Base == merge.BaseRequired {
		if len(args) < 2 {
			return fmt.Errorf("%s needs a base and at least one model: gomerge %s BASE MODEL... -o OUT", spec.Name, kebab(spec.Name))
		}
		basePath, paths = args[0], args[1:]
	}
	if spec.Base == merge.BaseNone && basePath != "" {
		return fmt.Errorf("%s does not use a base model; pass every model as an argument", spec.Name)
	}
	if err := requireParams(spec, global, perModel); err != nil {
		return err
	}
	outDT, err := mf.dtype()
	if err != nil {
		return err
	}
	missing, err := merge.ParseMissingPolicy(mf.Missing)
	if err != nil {
		return err
	}
	excl, err := compileRegexps(mf.Exclude)
	if err != nil {
		return err
	}
	pm, err := expandPerModel(spec, perModel, len(paths))
	if err != nil {
		return err
	}
	// Validate the global parameters before any I/O.
	if gp, err := spec.WithDefaults(global, false, "parameters"); err != nil {
		return err
	} else if _, err := spec.New(gp); err != nil {
		return fmt.Errorf("%s: %w", spec.Name, err)
	}
	if !mf.DryRun && mf.Out == "" {
		return fmt.Errorf("-o/--output is required")
	}
	all := paths
	if basePath != "" {
		all = append([]string{basePath}, paths...)
	}
	wopts, err := mf.writeOptions(g, all)
	if err != nil {
		return err
	}
	models, closeAll, err := openModels(ctx, g, all)
	if err != nil {
		return err
	}
	defer closeAll()
	cfg := &merge.Config{
		Spec:     spec,
		Params:   merge.ConstParams{Global: global, PerModel: pm},
		Models:   models,
		OutDType: outDT,
		Seed:     mf.Seed,
		Threads:  g.Threads,
		Missing:  missing,
		Exclude:  excl,
		Warn:     warnWriter(g),
	}
	if basePath != "" {
		cfg.Base, cfg.Models = models[0], models[1:]
	}
	plan, err := merge.PlanMerge(cfg)
	if err != nil {
		return err
	}
	if mf.DryRun {
		merge.PrintPlan(g.Stdout, plan, g.Threads)
		return nil
	}
	copyFrom := models[0]
	if mf.CopyFrom != "" {
		m, err := formats.Open(mf.CopyFrom)
		if err != nil {
			return err
		}
		defer m.Close()
		copyFrom = m
	}
	prog, finish := progress(g, totalBytes(plan), spec.Name)
	defer finish()
	return merge.Write(ctx, plan, merge.Output{Path: mf.Out, Write: wopts, CopyFrom: copyFrom},
		merge.ExecOptions{Threads: g.Threads, Progress: prog})
}
