// Package recipe runs mergekit YAML recipes: it parses a recipe (keeping
// line numbers for errors), validates it completely against the method
// registry and the models' headers before any tensor is read, resolves
// parameters with mergekit's precedence, gradients and filters, builds the
// tensor layout of slices (frankenmerges), and writes the output directory
// with mergekit's layout: shards and index, config.json, tokenizer files, a
// model card and the recipe as mergekit_config.yml.
//
// Multi-document recipes (mergekit-multi) run in order; later documents may
// use earlier documents' names as models, and an intermediate that is
// already up to date is not computed again.
package recipe
