package recipe

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var hubIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ResolveRef turns a recipe's model reference into a local path: an
// earlier document's name (multi-document recipes), a local file or
// directory (relative to the recipe's directory, then the working
// directory), or a Hugging Face repository id ("org/name" or
// "org/name@revision") found in the local Hugging Face cache. gomerge does
// not download; "model+lora" references are not supported yet.
func ResolveRef(ref string, named map[string]string, recipeDir string) (string, error) {
	if p, ok := named[ref]; ok {
		return p, nil
	}
	if strings.Contains(ref, "+") {
		return "", fmt.Errorf("model %q: LoRA references (model+lora) are not supported yet", ref)
	}
	for _, cand := range []string{filepath.Join(recipeDir, ref), ref} {
		if filepath.IsAbs(ref) && cand != ref {
			continue
		}
		if _, err := os.Stat(cand); err == nil {
			return cand, nil
		}
	}
	id, rev, _ := strings.Cut(ref, "@")
	if !hubIDRE.MatchString(id) {
		return "", fmt.Errorf("model %q: no such file or directory", ref)
	}
	hub := hubCacheDir()
	repo := filepath.Join(hub, "models--"+strings.ReplaceAll(id, "/", "--"))
	if rev == "" {
		rev = "main"
	}
	commit := rev
	if b, err := os.ReadFile(filepath.Join(repo, "refs", rev)); err == nil {
		commit = strings.TrimSpace(string(b))
	}
	snap := filepath.Join(repo, "snapshots", commit)
	if st, err := os.Stat(snap); err == nil && st.IsDir() {
		return snap, nil
	}
	return "", fmt.Errorf("model %q is not a local path and is not in the Hugging Face cache (%s); gomerge does not download models — fetch it first, e.g. with `huggingface-cli download %s`", ref, hub, id)
}

// hubCacheDir is $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub.
func hubCacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return d
	}
	if d := os.Getenv("HF_HOME"); d != "" {
		return filepath.Join(d, "hub")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "huggingface", "hub")
}
