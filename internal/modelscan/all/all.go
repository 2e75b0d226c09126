// Package all is the explicit table of model-format analyzers, in match
// order. It exists because package modelscan cannot import the analyzer
// packages (they import it); every command that scans models (scan, sign
// --scan, verify --require-clean-scan) takes its analyzers from here, so
// they all judge a file the same way.
//
// Order matters only where formats overlap; the engine gives a file to the
// first analyzer whose Match says yes.
package all

import (
	"github.com/rampart-ai/rampart/internal/modelscan"
)

// Analyzers returns a fresh instance of every analyzer, in match order.
func Analyzers() []modelscan.Analyzer {
	return []modelscan.Analyzer{}
}
