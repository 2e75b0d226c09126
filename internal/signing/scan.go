package signing

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// ScanPredicateType is rampart's own predicate: the scan verdict of every
// file of a signed model, bound to the model by the same root digest.
const ScanPredicateType = "https://rampart.dev/scan/v1"

// ScanPredicateBody is the scan attestation.
type ScanPredicateBody struct {
	Scanner string `json:"scanner"`
	// Verdict is the worst file verdict: CLEAN, SUSPICIOUS, UNSCANNABLE or UNSAFE.
	Verdict string     `json:"verdict"`
	Files   []ScanFile `json:"files"`
}

// ScanFile is one file's verdict, tied to the bytes scanned by their digest.
type ScanFile struct {
	Name     string        `json:"name"`
	SHA256   string        `json:"sha256"`
	Format   string        `json:"format"`
	Verdict  string        `json:"verdict"`
	Findings []ScanFinding `json:"findings"`
}

// ScanFinding is a finding as recorded in the attestation.
type ScanFinding struct {
	Verdict  string `json:"verdict"`
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
	Callable string `json:"callable,omitempty"`
	Offset   int64  `json:"offset"`
	Member   string `json:"member,omitempty"`
}

// Scan judges every file of m with eng and returns the scan predicate.
// Each file is hashed through the same open descriptor it is scanned from.
func Scan(ctx context.Context, eng *modelscan.Engine, m *Manifest) (*ScanPredicateBody, error) {
	p := &ScanPredicateBody{Scanner: "rampart", Verdict: modelscan.Clean.String(), Files: []ScanFile{}}
	worst := modelscan.Clean
	buf := make([]byte, hashBuffer)
	for _, f := range m.Files {
		fh, err := openRegular(f.Path)
		if err != nil {
			return nil, err
		}
		st, err := fh.Stat()
		if err != nil {
			fh.Close()
			return nil, err
		}
		res, err := eng.Scan(ctx, f.Name, fh, st.Size())
		if err != nil {
			fh.Close()
			return nil, fmt.Errorf("scan %s: %w", f.Name, err)
		}
		h := sha256.New()
		_, err = io.CopyBuffer(h, io.NewSectionReader(fh, 0, st.Size()), buf)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", f.Name, err)
		}
		sf := ScanFile{Name: f.Name, SHA256: hex.EncodeToString(h.Sum(nil)), Format: res.Format,
			Verdict: res.Verdict.String(), Findings: []ScanFinding{}}
		for _, fd := range res.Findings {
			sf.Findings = append(sf.Findings, ScanFinding{Verdict: fd.Verdict.String(), Severity: fd.Severity.String(),
				Rule: fd.Rule, Message: fd.Message, Callable: fd.Callable, Offset: fd.Offset, Member: fd.Member})
		}
		worst = max(worst, res.Verdict)
		p.Files = append(p.Files, sf)
	}
	p.Verdict = worst.String()
	return p, nil
}

// ScanPayload renders the scan statement over m's root digest.
func ScanPayload(m *Manifest, p *ScanPredicateBody) ([]byte, error) {
	root, err := RootDigest(m.Resources)
	if err != nil {
		return nil, err
	}
	pred, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	return statementJSON(m.Name, root, ScanPredicateType, pred)
}

// VerifyScan checks that b is a scan attestation signed under t over the
// model res verified, covering every file of it, with the verdict CLEAN.
func VerifyScan(b *Bundle, t *Trust, res *Result) (*ScanPredicateBody, error) {
	v, err := t.VerifyBundle(b)
	if err != nil {
		return nil, fmt.Errorf("scan attestation: %w", err)
	}
	if v.Signer != res.Signer {
		return nil, failf("scan attestation signed by %s, the model by %s", v.Signer, res.Signer)
	}
	st, root, err := parseStatement(v.Payload, ScanPredicateType)
	if err != nil {
		return nil, fmt.Errorf("scan attestation: %w", err)
	}
	want, err := hex.DecodeString(res.RootDigest)
	if err != nil || subtle.ConstantTimeCompare(root, want) != 1 {
		return nil, failf("scan attestation covers root digest %x, not the signed model's %s", root, res.RootDigest)
	}
	var p ScanPredicateBody
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		return nil, failf("malformed scan predicate: %v", err)
	}
	files := map[string]string{}
	if res.Manifest.Serialization.Method == MethodFiles {
		for _, r := range res.Manifest.Resources {
			files[r.Name] = r.Digest
		}
	} else {
		for _, r := range res.Manifest.Resources {
			files[resourcePath(r, MethodShards)] = ""
		}
	}
	seen := map[string]bool{}
	for _, f := range p.Files {
		d, ok := files[f.Name]
		if !ok || seen[f.Name] {
			return nil, failf("scan attestation lists %q, which is not a signed file (or lists it twice)", f.Name)
		}
		seen[f.Name] = true
		if d != "" && d != f.SHA256 {
			return nil, failf("scan attestation judged other bytes for %q than were signed", f.Name)
		}
		if f.Verdict != modelscan.Clean.String() {
			return nil, failf("scan verdict for %q is %s", f.Name, f.Verdict)
		}
	}
	if len(seen) != len(files) {
		return nil, failf("scan attestation covers %d of %d signed files", len(seen), len(files))
	}
	if p.Verdict != modelscan.Clean.String() {
		return nil, failf("scan verdict is %s, want CLEAN", p.Verdict)
	}
	return &p, nil
}
