// Package savedmodel judges TensorFlow SavedModel graphs (saved_model.pb).
// Loading a SavedModel runs its graph's ops, and some ops reach outside the
// tensor world: PyFunc and its kin call back into Python, ReadFile and
// WriteFile touch the file system, MatchingFiles lists it. Those are UNSAFE
// and named with the node that uses them. Ops that move data between
// machines or map files into memory are SUSPICIOUS. Checkpoint ops
// (SaveV2, RestoreV2, MergeV2Checkpoints) are how every SavedModel loads its
// own variables and stay CLEAN.
//
// The protobuf is walked with protowire, never unmarshalled into generated
// types: SavedModel.meta_graphs(2) → MetaGraphDef.graph_def(2) →
// GraphDef.node(1) and GraphDef.library(2).function(1).node_def(3) →
// NodeDef.name(1), op(2). Malformed wire data is UNSCANNABLE.
package savedmodel

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// maxPB bounds saved_model.pb; graphs are megabytes, weights live elsewhere.
const maxPB = 2 << 30

type analyzer struct{}

// New returns the analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "savedmodel" }

// Match: a SavedModel starts with saved_model_schema_version = 1 (field 1,
// varint) followed by a meta_graphs entry (field 2, length-delimited).
// ONNX also starts with a field-1 varint, but its ir_version is at least 3.
func (analyzer) Match(head []byte) bool {
	return len(head) >= 3 && head[0] == 0x08 && head[1] == 0x01 && head[2] == 0x12
}

var unsafeOps = map[string]string{
	"PyFunc":          "calls back into Python",
	"PyFuncStateless": "calls back into Python",
	"EagerPyFunc":     "calls back into Python",
	"ReadFile":        "reads a file",
	"WriteFile":       "writes a file",
	"MatchingFiles":   "lists the file system",
	"DeleteFile":      "deletes a file",
}

var suspiciousOps = map[string]string{
	"ImmutableConst":  "maps a file into memory",
	"PrintV2":         "can write to a file or stream",
	"DebugIdentityV2": "writes debug data to a path",
	"DebugIdentity":   "writes debug data to a URL",
	"_Send":           "sends tensors to another device or host",
	"_Recv":           "receives tensors from another device or host",
	"RemoteCall":      "runs a function on another device or host",
	"TFRecordDataset": "reads files named in the graph",
	"TextLineDataset": "reads files named in the graph",
}

type walker struct {
	buf      []byte
	findings []modelscan.Finding
	nodes    int
}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	if in.Size > maxPB {
		return []modelscan.Finding{{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: "savedmodel.too-large",
			Message: fmt.Sprintf("saved_model.pb of %d bytes exceeds %d", in.Size, int64(maxPB)), Offset: -1}}, nil
	}
	if err := in.Charge(in.Size); err != nil {
		return nil, err
	}
	b := make([]byte, in.Size)
	if _, err := in.R.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", in.Name, err)
	}
	w := &walker{buf: b}
	if err := w.fields(0, len(b), w.savedModel); err != nil {
		var pe *parseError
		if errors.As(err, &pe) {
			w.findings = append(w.findings, modelscan.Finding{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium,
				Rule: "savedmodel.malformed", Message: pe.msg, Offset: int64(pe.off)})
			return w.findings, nil
		}
		return nil, err
	}
	if w.nodes == 0 {
		w.findings = append(w.findings, modelscan.Finding{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium,
			Rule: "savedmodel.no-graph", Message: "no graph nodes found", Offset: -1})
	}
	return w.findings, nil
}

type parseError struct {
	off int
	msg string
}

func (e *parseError) Error() string { return fmt.Sprintf("byte %d: %s", e.off, e.msg) }

// fields walks the message in buf[start:end], calling f for each
// length-delimited field with its bounds.
func (w *walker) fields(start, end int, f func(num protowire.Number, s, e int) error) error {
	i := start
	for i < end {
		num, typ, n := protowire.ConsumeTag(w.buf[i:end])
		if n < 0 {
			return &parseError{i, "bad field tag"}
		}
		i += n
		if typ == protowire.BytesType {
			v, m := protowire.ConsumeBytes(w.buf[i:end])
			if m < 0 {
				return &parseError{i, fmt.Sprintf("field %d: length runs past the message", num)}
			}
			s := i + m - len(v)
			if err := f(num, s, s+len(v)); err != nil {
				return err
			}
			i += m
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, w.buf[i:end])
		if m < 0 {
			return &parseError{i, fmt.Sprintf("field %d: malformed value", num)}
		}
		i += m
	}
	return nil
}

func (w *walker) savedModel(num protowire.Number, s, e int) error {
	if num == 2 { // meta_graphs
		return w.fields(s, e, w.metaGraph)
	}
	return nil
}

func (w *walker) metaGraph(num protowire.Number, s, e int) error {
	if num == 2 { // graph_def
		return w.fields(s, e, w.graph)
	}
	return nil
}

func (w *walker) graph(num protowire.Number, s, e int) error {
	switch num {
	case 1: // node
		return w.node(s, e)
	case 2: // library
		return w.fields(s, e, func(num protowire.Number, s, e int) error {
			if num != 1 { // function
				return nil
			}
			return w.fields(s, e, func(num protowire.Number, s, e int) error {
				if num == 3 { // node_def
					return w.node(s, e)
				}
				return nil
			})
		})
	}
	return nil
}

func (w *walker) node(s, e int) error {
	w.nodes++
	var name, op string
	err := w.fields(s, e, func(num protowire.Number, fs, fe int) error {
		switch num {
		case 1:
			name = string(w.buf[fs:fe])
		case 2:
			op = string(w.buf[fs:fe])
		}
		return nil
	})
	if err != nil {
		return err
	}
	if why, ok := unsafeOps[op]; ok {
		w.findings = append(w.findings, modelscan.Finding{Verdict: modelscan.Unsafe, Severity: rampart.SeverityCritical,
			Rule: "savedmodel.unsafe-op", Callable: op, Offset: int64(s),
			Message: fmt.Sprintf("op %s in node %q %s when the graph runs", op, clip(name), why)})
	} else if why, ok := suspiciousOps[op]; ok {
		w.findings = append(w.findings, modelscan.Finding{Verdict: modelscan.Suspicious, Severity: rampart.SeverityMedium,
			Rule: "savedmodel.suspicious-op", Callable: op, Offset: int64(s),
			Message: fmt.Sprintf("op %s in node %q %s", op, clip(name), why)})
	}
	return nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
