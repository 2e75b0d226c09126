package report

import (
	"encoding/json"
	"io"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

type jsonReport struct {
	Tool    Tool               `json:"tool"`
	Results []modelscan.Result `json:"results"`
	Summary Summary            `json:"summary"`
	Errors  []FileError        `json:"errors"`
}

// WriteJSON writes r as one indented JSON object:
//
//	{"tool": {"name", "version"}, "results": [...], "summary": {...}, "errors": [...]}
//
// results are [modelscan.Result] values as they marshal (verdicts and
// severities by name, offset -1 when unknown); summary counts files by
// verdict; errors lists paths that could not be read. Lists are never null.
func WriteJSON(w io.Writer, r *Report) error {
	out := jsonReport{Tool: r.Tool, Results: r.Results, Summary: r.Summarize(), Errors: r.Errors}
	if out.Results == nil {
		out.Results = []modelscan.Result{}
	}
	for i := range out.Results {
		if out.Results[i].Findings == nil {
			// Copy before patching: the caller's results are not ours to edit.
			out.Results = append([]modelscan.Result(nil), out.Results...)
			for j := range out.Results {
				if out.Results[j].Findings == nil {
					out.Results[j].Findings = []modelscan.Finding{}
				}
			}
			break
		}
	}
	if out.Errors == nil {
		out.Errors = []FileError{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
