package merge

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/gomerge/gomerge/formats"
)

// NumLayers returns a model's transformer layer count: num_hidden_layers
// (or n_layer, num_layers) from config.json when the model has one, checked
// against the layer indices in the tensor names, else one more than the
// largest layer index. A model without layer tensors has 0 layers.
func NumLayers(m *formats.Model) (int, error) {
	fromNames := 0
	for _, n := range m.Names() {
		fromNames = max(fromNames, LayerIndex(n)+1)
	}
	data, err := m.ReadFile("config.json")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fromNames, nil
		}
		return 0, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		return 0, fmt.Errorf("%s/config.json: %w", m.Dir, err)
	}
	for _, k := range []string{"num_hidden_layers", "n_layer", "num_layers"} {
		v, ok := cfg[k].(float64)
		if !ok {
			continue
		}
		if v != float64(int(v)) || v < 0 {
			return 0, fmt.Errorf("%s/config.json: %s is %v, not a layer count", m.Dir, k, v)
		}
		if fromNames > int(v) {
			return 0, fmt.Errorf("%s: config.json says %s = %d but the tensor names reach layer %d", m.Path, k, int(v), fromNames-1)
		}
		return int(v), nil
	}
	return fromNames, nil
}
