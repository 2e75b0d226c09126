// Package report writes results for people and for machines: a terminal
// table, one JSON object, and SARIF 2.1.0 for code-scanning tools; a
// generic terminal [Grid]; and self-contained HTML reports with inline SVG
// plots ([WriteHTML]) for the data guard.
// Every rampart command that judges files (scan, and later sign --scan and
// verify) writes through this package, so the formats stay the same
// everywhere.
//
// The writers are pure functions of a [Report]: the same report always
// renders the same bytes (no timestamps, no durations, no map order), which
// is what makes the output diffable and the golden tests possible. Paths are
// written as the caller gives them, except in SARIF, whose artifact URIs are
// relative to [Report.BaseDir] when the file lies under it.
package report

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"golang.org/x/term"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// InformationURI is where the tool's documentation lives.
const InformationURI = "https://github.com/rampart-ai/rampart"

// docsURI is the scan documentation that every rule's helpUri points into.
const docsURI = InformationURI + "/blob/main/docs/scan.md"

// Tool names the program that produced a report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// DefaultTool is rampart at the version recorded in the binary's build
// information ("dev" when built from a work tree without a version).
func DefaultTool() Tool {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return Tool{Name: "rampart", Version: v}
}

// FileError is a path that could not be judged at all (unreadable, vanished,
// interrupted). It is not a verdict: commands exit with status 2 for it.
type FileError struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Report is everything a writer renders.
type Report struct {
	Tool Tool
	// Results in the order the caller wants them shown (input order).
	Results []modelscan.Result
	Errors  []FileError
	// BaseDir makes SARIF URIs relative; empty means the working directory.
	BaseDir string
}

// Summary counts files by verdict.
type Summary struct {
	Files       int `json:"files"`
	Clean       int `json:"clean"`
	Suspicious  int `json:"suspicious"`
	Unscannable int `json:"unscannable"`
	Unsafe      int `json:"unsafe"`
	Errors      int `json:"errors"`
	// Verdict is the worst verdict over all files (CLEAN when none).
	Verdict modelscan.Verdict `json:"verdict"`
}

// Summarize counts r's results by verdict.
func (r *Report) Summarize() Summary {
	s := Summary{Files: len(r.Results), Errors: len(r.Errors)}
	for _, res := range r.Results {
		switch res.Verdict {
		case modelscan.Clean:
			s.Clean++
		case modelscan.Suspicious:
			s.Suspicious++
		case modelscan.Unscannable:
			s.Unscannable++
		default:
			// Anything out of range counts as the worst: fail closed.
			s.Unsafe++
		}
		if res.Verdict > s.Verdict {
			s.Verdict = res.Verdict
		}
	}
	return s
}

// String is the one-line summary printed under the table and on stderr.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d file", s.Files)
	if s.Files != 1 {
		b.WriteByte('s')
	}
	fmt.Fprintf(&b, ": %d clean, %d suspicious, %d unscannable, %d unsafe", s.Clean, s.Suspicious, s.Unscannable, s.Unsafe)
	if s.Errors > 0 {
		fmt.Fprintf(&b, "; %d could not be read", s.Errors)
	}
	return b.String()
}

// Format is an output format name.
type Format string

const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatSARIF Format = "sarif"
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatTable, FormatJSON, FormatSARIF:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q (want table, json or sarif)", s)
}

// Options tune rendering.
type Options struct {
	// Color enables ANSI colours in the table; see [ColorFor].
	Color bool
}

// Write renders r in format f.
func Write(w io.Writer, f Format, r *Report, opt Options) error {
	switch f {
	case FormatTable:
		return WriteTable(w, r, opt)
	case FormatJSON:
		return WriteJSON(w, r)
	case FormatSARIF:
		return WriteSARIF(w, r)
	}
	return fmt.Errorf("unknown format %q", f)
}

// ColorFor reports whether output to w should be coloured: only when w is a
// terminal and NO_COLOR is unset or empty (https://no-color.org). Files,
// pipes and buffers never get escape codes.
func ColorFor(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	return IsTerminal(w)
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
