package oip

import (
	"fmt"

	"github.com/rampart-ai/rampart"
)

// NaNPolicy says whether NaN and infinite values may reach a model.
type NaNPolicy string

// The NaN policies. Any other value is treated as NaNReject, the secure
// default: most models were never trained on non-finite inputs and many
// propagate them silently.
const (
	NaNReject NaNPolicy = "reject"
	NaNAllow  NaNPolicy = "allow"
)

// DetectorSchema is the Detector of the findings ValidateInputs produces.
const DetectorSchema = "oip.schema"

// ValidateInputs checks the decoded tensors against the inputs a model
// declares: each tensor must be a declared input with the declared
// datatype and a shape that matches (a declared -1 matches any size), every
// declared input must be present, and, unless nan is NaNAllow, no tensor
// may hold NaN or infinite values. Each violation is one blocking finding.
// Binary tensors are checked by datatype and shape; their NaNs and
// infinities were counted by DecodeInfer.
func ValidateInputs(inf *rampart.Inference, inputs []TensorSpec, nan NaNPolicy) []rampart.Finding {
	var out []rampart.Finding
	add := func(kind string, sev rampart.Severity, format string, args ...any) {
		out = append(out, rampart.Finding{
			Detector: DetectorSchema,
			Kind:     kind,
			Severity: sev,
			Reason:   fmt.Sprintf(format, args...),
			Verdict:  rampart.VerdictBlock,
			Code:     rampart.CodeInvalid,
		})
	}
	var seen []bool
	if len(inputs) > 0 {
		seen = make([]bool, len(inputs))
	}
	for i := range inf.Tensors {
		t := &inf.Tensors[i]
		name := quote([]byte(t.Name))
		j := specIndex(inputs, t.Name)
		if j < 0 {
			add("unknown_input", rampart.SeverityHigh, "input %s is not an input of the model", name)
			continue
		}
		seen[j] = true
		spec := &inputs[j]
		if t.Datatype != spec.Datatype {
			add("datatype_mismatch", rampart.SeverityHigh, "input %s is %s, the model expects %s", name, t.Datatype, spec.Datatype)
		}
		if !shapeMatches(t.Shape, spec.Shape) {
			add("shape_mismatch", rampart.SeverityMedium, "input %s has shape %s, the model expects %s", name, FormatShape(t.Shape), FormatShape(spec.Shape))
		}
		if nan != NaNAllow && t.NaNs+t.Infs > 0 {
			add("nan_inf", rampart.SeverityMedium, "input %s holds %d NaN and %d infinite values", name, t.NaNs, t.Infs)
		}
	}
	for j := range inputs {
		if !seen[j] {
			add("missing_input", rampart.SeverityHigh, "the model's input %s is missing", quote([]byte(inputs[j].Name)))
		}
	}
	return out
}

func specIndex(inputs []TensorSpec, name string) int {
	for j := range inputs {
		if inputs[j].Name == name {
			return j
		}
	}
	return -1
}

func shapeMatches(got, want []int64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if want[i] != -1 && want[i] != got[i] {
			return false
		}
	}
	return true
}
