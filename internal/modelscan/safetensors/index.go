package safetensors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// maxIndex bounds an index file; real ones are a few hundred KB.
const maxIndex = 64 << 20

type index struct{}

// NewIndex returns the analyzer for sharded-checkpoint index files
// ({"metadata": ..., "weight_map": {tensor: shard file}}). Shard names
// that leave the model directory are UNSAFE: loaders join them to the
// directory and open them.
func NewIndex() modelscan.Analyzer { return index{} }

func (index) Name() string { return "safetensors-index" }

func (index) Match(head []byte) bool {
	t := bytes.TrimLeft(head, " \t\r\n")
	return bytes.HasPrefix(t, []byte("{")) && bytes.Contains(head, []byte(`"weight_map"`))
}

func (index) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	var f finder
	if in.Size > maxIndex {
		f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.index-size", 0, "index file larger than %d bytes", maxIndex)
		return f.fs, nil
	}
	if err := in.Charge(in.Size); err != nil {
		return nil, err
	}
	b := make([]byte, in.Size)
	if _, err := in.R.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read index: %w", err)
	}
	v, err := StrictJSON(b)
	if err != nil {
		f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.bad-index", 0, "index is not strict JSON: %v", err)
		return f.fs, nil
	}
	top, _ := v.(map[string]any)
	wm, ok := top["weight_map"].(map[string]any)
	if !ok {
		f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.bad-index", 0, "weight_map is not an object")
		return f.fs, nil
	}
	seen := map[string]bool{}
	for tensor, fv := range wm {
		file, ok := fv.(string)
		if !ok {
			f.add(modelscan.Unscannable, rampart.SeverityMedium, "safetensors.bad-index", 0, "weight_map[%q] is not a file name", clip(tensor))
			continue
		}
		if seen[file] {
			continue
		}
		seen[file] = true
		if why := escapes(file); why != "" {
			f.add(modelscan.Unsafe, rampart.SeverityHigh, "safetensors.index-path-traversal", -1,
				"weight_map sends tensor %q to %q (%s): outside the model directory", clip(tensor), clip(file), why)
		}
	}
	return f.fs, nil
}

// escapes says why a relative file reference leaves its directory.
func escapes(p string) string {
	switch {
	case p == "":
		return "empty name"
	case strings.IndexByte(p, 0) >= 0:
		return "a NUL byte"
	case strings.HasPrefix(p, "/"):
		return "an absolute path"
	case strings.Contains(p, "\\"):
		return "a backslash"
	case len(p) >= 2 && p[1] == ':':
		return "a drive letter"
	case strings.Contains(p, "://"):
		return "a URL"
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." {
			return "a '..' component"
		}
	}
	return ""
}
