// Package all is the explicit table of model-format analyzers, in match
// order. It exists because package modelscan cannot import the analyzer
// packages (they import it); every command that scans models (scan, sign
// --scan, verify --require-clean-scan) takes its analyzers from here, so
// they all judge a file the same way.
//
// The engine gives a file to the first analyzer whose Match says yes, so
// the order matters where formats could overlap: exact magic numbers come
// first, then the looser structural checks, and plain text last, because a
// protocol-0 pickle is ASCII text too.
package all

import (
	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/modelscan/gguf"
	"github.com/rampart-ai/rampart/internal/modelscan/hdf5"
	"github.com/rampart-ai/rampart/internal/modelscan/joblib"
	"github.com/rampart-ai/rampart/internal/modelscan/keras"
	"github.com/rampart-ai/rampart/internal/modelscan/numpy"
	"github.com/rampart-ai/rampart/internal/modelscan/onnx"
	"github.com/rampart-ai/rampart/internal/modelscan/pickle"
	"github.com/rampart-ai/rampart/internal/modelscan/safetensors"
	"github.com/rampart-ai/rampart/internal/modelscan/savedmodel"
	"github.com/rampart-ai/rampart/internal/modelscan/text"
	"github.com/rampart-ai/rampart/internal/modelscan/zip"
)

// Analyzers returns a fresh instance of every analyzer, in match order.
func Analyzers() []modelscan.Analyzer {
	return []modelscan.Analyzer{
		gguf.New(),  // "GGUF"
		numpy.New(), // "\x93NUMPY"
		hdf5.New(),  // "\x89HDF\r\n\x1a\n": Keras 2 .h5 saves
		// A little-endian header length, then '{': the length's first
		// byte can read as PROTO, so it must come before pickle.
		safetensors.New(),
		zip.New(),        // "PK\x03\x04", "PK\x05\x06": PyTorch, TorchScript, .npz, .keras
		joblib.New(),     // zlib, "ZF0x", gzip, bzip2 (xz, lzma, lz4 recognised, UNSCANNABLE)
		savedmodel.New(), // protobuf: schema version 1, then meta_graphs
		// protobuf: an ir_version, then ModelProto fields. After
		// SavedModel, whose exact prefix would read as ir_version 1.
		onnx.New(),
		// JSON with a "weight_map": before the general JSON analyzer.
		safetensors.NewIndex(),
		keras.New(),  // JSON: Keras configs and other JSON data
		pickle.New(), // PROTO 2–5, or a protocol 0/1 opcode prefix that parses
		text.New(),   // last: a protocol-0 pickle is ASCII text too
	}
}
