// Package hdf5 judges HDF5 files, the format of Keras 2 ".h5" saves.
//
// An HDF5 file holds no code, but a Keras 2 save keeps the model's
// architecture as a JSON string in the root group's "model_config"
// attribute (and the compile settings in "training_config"), and Keras
// rebuilds the model from it: Lambda layers, config-named modules and the
// like run code on load exactly as in a .keras archive. So the analyzer
// reads the root group's attributes with a minimal, read-only HDF5 reader
// of its own and hands those configs to [keras.CheckConfig].
//
// The reader reads only what it needs through io.ReaderAt: the superblock
// (versions 0–3), the root object header (version 1, or version 2 with its
// OCHK continuation blocks), the global heap objects that hold
// variable-length strings, and dense attribute storage (the fractal heap
// and the version 2 B-tree that indexes it by name), which HDF5 uses for a
// config over 64 KiB or for many attributes. Every offset and length taken
// from the file is checked against the file's size and fixed limits before
// use, and a file shorter than the end of file its superblock records is
// refused. A file without a config is CLEAN only when every attribute of
// the root group was listed; anything the reader cannot parse, or a config
// stored in a way it does not read (shared messages, nested fractal heap
// indirect blocks, non-string types), is UNSCANNABLE with the byte offset.
package hdf5

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/modelscan/keras"
)

type analyzer struct{}

// New returns the HDF5 analyzer.
func New() modelscan.Analyzer { return analyzer{} }

func (analyzer) Name() string { return "hdf5" }

// Match claims content that starts with the HDF5 superblock signature.
// (A file with a user block has its superblock at 512, 1024, …; such a
// file starts with arbitrary bytes and is not claimed here.)
func (analyzer) Match(head []byte) bool { return bytes.HasPrefix(head, []byte(Signature)) }

// configAttrs are the root attributes Keras 2 rebuilds a model from.
var configAttrs = map[string]bool{"model_config": true, "training_config": true}

func (analyzer) Analyze(ctx context.Context, in *modelscan.Input) ([]modelscan.Finding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := Open(in.R, in.Size, 0)
	if err != nil {
		return failure(err)
	}
	attrs, err := f.RootAttributes(func(name string) bool { return configAttrs[name] })
	if cerr := in.Charge(f.BytesRead()); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return failure(err)
	}
	var fs []modelscan.Finding
	for _, a := range attrs {
		if !configAttrs[a.Name] {
			continue
		}
		if a.StringErr != nil {
			var fe *FormatError
			off := a.Offset
			if errors.As(a.StringErr, &fe) {
				off = fe.Offset
			}
			fs = append(fs, modelscan.Finding{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium,
				Rule: "hdf5.unsupported-config", Message: fmt.Sprintf("Keras %s in a form this reader does not read: %v", a.Name, a.StringErr),
				Offset: off})
			continue
		}
		for _, s := range a.Strings {
			for _, k := range keras.CheckConfig(s, in.Policy()) {
				if k.Offset < 0 {
					k.Offset = a.Offset
				}
				k.Message = a.Name + ": " + k.Message
				fs = append(fs, k)
			}
		}
	}
	return fs, nil
}

// failure turns a reader error into an UNSCANNABLE finding; I/O errors
// stay errors.
func failure(err error) ([]modelscan.Finding, error) {
	var fe *FormatError
	if !errors.As(err, &fe) {
		return nil, err
	}
	rule := "hdf5.malformed"
	if fe.Unsupported {
		rule = "hdf5.unsupported"
	}
	return []modelscan.Finding{{Verdict: modelscan.Unscannable, Severity: rampart.SeverityMedium, Rule: rule,
		Message: "HDF5 root group not fully readable: " + fe.Msg, Offset: fe.Offset}}, nil
}
