package rampart_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/rampart-ai/rampart"
)

func TestDecide(t *testing.T) {
	flag := rampart.Finding{Kind: "odd", Verdict: rampart.VerdictFlag, Severity: rampart.SeverityLow}
	block := rampart.Finding{Kind: "bad", Verdict: rampart.VerdictBlock, Severity: rampart.SeverityMedium}
	worse := rampart.Finding{Kind: "worse", Verdict: rampart.VerdictBlock, Severity: rampart.SeverityHigh}
	throttle := rampart.Finding{Kind: "slow", Verdict: rampart.VerdictThrottle}
	denied := rampart.Finding{Kind: "forbidden", Verdict: rampart.VerdictBlock, Mandatory: true}
	tests := []struct {
		name     string
		mode     rampart.Mode
		fs       []rampart.Finding
		verdict  rampart.Verdict
		cause    string
		enforced bool
		refused  bool
	}{
		{"nothing", rampart.ModeEnforce, nil, rampart.VerdictAllow, "", true, false},
		{"flag only", rampart.ModeEnforce, []rampart.Finding{flag}, rampart.VerdictFlag, "odd", true, false},
		{"block beats flag", rampart.ModeEnforce, []rampart.Finding{flag, block}, rampart.VerdictBlock, "bad", true, true},
		{"block beats throttle", rampart.ModeEnforce, []rampart.Finding{throttle, block}, rampart.VerdictBlock, "bad", true, true},
		{"higher severity is the cause", rampart.ModeEnforce, []rampart.Finding{block, worse}, rampart.VerdictBlock, "worse", true, true},
		{"monitor records, lets through", rampart.ModeMonitor, []rampart.Finding{block}, rampart.VerdictBlock, "bad", false, false},
		{"monitor never relaxes access control", rampart.ModeMonitor, []rampart.Finding{worse, denied}, rampart.VerdictBlock, "forbidden", true, true},
		{"empty verdict counts as flag", rampart.ModeEnforce, []rampart.Finding{{Kind: "x"}}, rampart.VerdictFlag, "x", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := rampart.Decide(tc.mode, tc.fs)
			cause := ""
			if d.Cause != nil {
				cause = d.Cause.Kind
			}
			if d.Verdict != tc.verdict || cause != tc.cause || d.Enforced != tc.enforced || d.Refused() != tc.refused {
				t.Fatalf("got %s cause=%q enforced=%v refused=%v", d.Verdict, cause, d.Enforced, d.Refused())
			}
		})
	}
}

func TestErrors(t *testing.T) {
	inner := errors.New("disk on fire at /var/lib/x")
	err := fmt.Errorf("stage: %w", &rampart.Error{Code: rampart.CodeUnavailable, Message: "try later", Err: inner})
	if rampart.ErrorCode(err) != rampart.CodeUnavailable || rampart.ErrorMessage(err) != "try later" || !errors.Is(err, inner) {
		t.Fatal("error vocabulary broken")
	}
	if rampart.ErrorMessage(inner) != "internal error" || rampart.ErrorCode(inner) != rampart.CodeInternal {
		t.Fatal("a plain error must not leak its text to clients")
	}
	for code, status := range map[rampart.Code]int{rampart.CodeInvalid: 400, rampart.CodeUnauthenticated: 401, rampart.CodeForbidden: 403,
		rampart.CodeNotFound: 404, rampart.CodeTooLarge: 413, rampart.CodeRateLimited: 429, rampart.CodeUpstream: 502, rampart.CodeInternal: 500} {
		if code.Status() != status {
			t.Errorf("%s -> %d, want %d", code, code.Status(), status)
		}
	}
	var s rampart.Severity
	if err := s.UnmarshalText([]byte("critical")); err != nil || s != rampart.SeverityCritical || s.String() != "critical" {
		t.Fatal("severity text round trip")
	}
	if err := s.UnmarshalText([]byte("apocalyptic")); err == nil {
		t.Fatal("unknown severity accepted")
	}
}
