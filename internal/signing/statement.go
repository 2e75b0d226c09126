package signing

import (
	"bytes"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Statement is an in-toto Statement v1.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject names the model and its root digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// SignaturePredicateBody is the v1.0 model signature predicate.
type SignaturePredicateBody struct {
	Serialization Serialization `json:"serialization"`
	Resources     []Resource    `json:"resources"`
}

// Payload renders m as the in-toto statement that gets signed.
func (m *Manifest) Payload() ([]byte, error) {
	root, err := RootDigest(m.Resources)
	if err != nil {
		return nil, err
	}
	rs := m.Resources
	if rs == nil {
		rs = []Resource{}
	}
	pred, err := json.Marshal(SignaturePredicateBody{Serialization: m.Serialization, Resources: rs})
	if err != nil {
		return nil, err
	}
	return statementJSON(m.Name, root, SignaturePredicate, pred)
}

func statementJSON(name string, root []byte, predType string, pred []byte) ([]byte, error) {
	return json.MarshalIndent(Statement{
		Type:          StatementType,
		Subject:       []Subject{{Name: name, Digest: map[string]string{HashSHA256: hex.EncodeToString(root)}}},
		PredicateType: predType,
		Predicate:     pred,
	}, "", "  ")
}

// parseStatement decodes a verified payload and checks its statement type,
// predicate type and single subject; it returns the root digest.
func parseStatement(payload []byte, predType string) (*Statement, []byte, error) {
	var st Statement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, nil, failf("payload is not an in-toto statement: %v", err)
	}
	if st.Type != StatementType {
		return nil, nil, failf("statement type %q, want %q", st.Type, StatementType)
	}
	if st.PredicateType != predType {
		return nil, nil, failf("predicate type %q, want %q", st.PredicateType, predType)
	}
	if len(st.Subject) != 1 {
		return nil, nil, failf("statement has %d subjects, want 1", len(st.Subject))
	}
	root, err := hex.DecodeString(st.Subject[0].Digest[HashSHA256])
	if err != nil || len(root) != 32 {
		return nil, nil, failf("subject has no sha256 root digest")
	}
	return &st, root, nil
}

// Result is what a successful verification established.
type Result struct {
	Model      string
	RootDigest string
	Method     string
	Files      int
	Resources  int
	Signer     string
	// Manifest is the model as signed, for a scan check.
	Manifest *Manifest
}

// VerifyModel checks that bundle is a valid signature by t over the model
// at root, exactly: same files, same bytes, nothing more. extraIgnore
// lists slash paths relative to root to leave out besides those the
// signer declared (the signature files being read).
func VerifyModel(root string, b *Bundle, t *Trust, extraIgnore []string) (*Result, error) {
	v, err := t.VerifyBundle(b)
	if err != nil {
		return nil, err
	}
	return VerifyModelPayload(root, v.Payload, v.Signer, extraIgnore)
}

// VerifyModelPayload checks the model at root against a statement payload
// whose signature was already verified (by [Trust.VerifyBundle] or by
// Sigstore keyless verification); signer describes who signed it.
func VerifyModelPayload(root string, payload []byte, signer string, extraIgnore []string) (*Result, error) {
	st, root0, err := parseStatement(payload, SignaturePredicate)
	if err != nil {
		return nil, err
	}
	var pred SignaturePredicateBody
	if err := json.Unmarshal(st.Predicate, &pred); err != nil {
		return nil, failf("malformed predicate: %v", err)
	}
	ser := pred.Serialization
	switch {
	case ser.HashType != HashSHA256:
		return nil, failf("hash type %q is not supported (want sha256)", ser.HashType)
	case ser.AllowSymlinks:
		return nil, failf("signed with allow_symlinks true: links are not verified by rampart")
	case ser.Method == MethodShards && ser.ShardSize <= 0:
		return nil, failf("shards method with shard size %d", ser.ShardSize)
	case ser.Method != MethodFiles && ser.Method != MethodShards:
		return nil, failf("serialization method %q is not supported", ser.Method)
	}
	for _, ig := range ser.IgnorePaths {
		if !validName(ig) {
			return nil, failf("ignore path %q is not a clean relative path", ig)
		}
	}
	signed := map[string][]Resource{}
	seen := map[string]bool{}
	for _, r := range pred.Resources {
		if seen[r.Name] {
			return nil, failf("resource %q listed twice", r.Name)
		}
		seen[r.Name] = true
		if ser.Method == MethodShards {
			if _, _, _, ok := splitShard(r.Name); !ok {
				return nil, failf("resource %q is not a shard name path:start:end", r.Name)
			}
		}
		p := resourcePath(r, ser.Method)
		if !validName(p) {
			return nil, failf("resource %q: path is not a clean relative path", r.Name)
		}
		signed[p] = append(signed[p], r)
	}
	got, err := RootDigest(pred.Resources)
	if err != nil {
		return nil, failf("%v", err)
	}
	if subtle.ConstantTimeCompare(got, root0) != 1 {
		return nil, failf("manifest inconsistent: resources hash to root %x, subject says %x", got, root0)
	}

	files, name, err := Collect(root, append(slices.Clone(ser.IgnorePaths), extraIgnore...))
	if err != nil {
		if isSymlinkErr(err) {
			return nil, failf("%v: links and special files are never signed", err)
		}
		return nil, err
	}
	per, err := hashAll(files, ser)
	if err != nil {
		if isSymlinkErr(err) {
			return nil, failf("%v", err)
		}
		return nil, err
	}
	local := map[string][]Resource{}
	for i, f := range files {
		local[f.Name] = per[i]
	}
	if err := compare(signed, local, ser.Method); err != nil {
		return nil, err
	}
	return &Result{
		Model: name, RootDigest: hex.EncodeToString(root0), Method: ser.Method,
		Files: len(files), Resources: len(pred.Resources), Signer: signer,
		Manifest: &Manifest{Name: st.Subject[0].Name, Serialization: ser, Resources: pred.Resources, Files: files},
	}, nil
}

// isSymlinkErr reports a model content problem (a link or special file),
// which is a verification failure rather than an I/O error.
func isSymlinkErr(err error) bool { return errors.Is(err, ErrSymlink) || errors.Is(err, ErrNotRegular) }

// compare reports every difference between the signed and the local
// model, renames recognised by content.
func compare(signed, local map[string][]Resource, method string) error {
	var missing, extra, changed []string
	for p, rs := range signed {
		l, ok := local[p]
		if !ok {
			missing = append(missing, p)
			continue
		}
		if !sameResources(rs, l) {
			changed = append(changed, p)
		}
	}
	for p := range local {
		if _, ok := signed[p]; !ok {
			extra = append(extra, p)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	slices.Sort(changed)
	var reasons []string
	byContent := map[string][]string{}
	for _, p := range extra {
		fp := fingerprint(local[p], method)
		byContent[fp] = append(byContent[fp], p)
	}
	renamedTo := map[string]bool{}
	for _, p := range missing {
		fp := fingerprint(signed[p], method)
		if cands := byContent[fp]; len(cands) > 0 {
			reasons = append(reasons, fmt.Sprintf("file %q renamed to %q", p, cands[0]))
			renamedTo[cands[0]] = true
			byContent[fp] = cands[1:]
			continue
		}
		reasons = append(reasons, fmt.Sprintf("file %q missing", p))
	}
	for _, p := range extra {
		if !renamedTo[p] {
			reasons = append(reasons, fmt.Sprintf("file %q not in the signed manifest (extra file)", p))
		}
	}
	for _, p := range changed {
		reasons = append(reasons, fmt.Sprintf("file %q tampered: digest differs from the signed one", p))
	}
	if len(reasons) == 0 {
		return nil
	}
	slices.Sort(reasons)
	return failf("%s", strings.Join(reasons, "; "))
}

func sameResources(a, b []Resource) bool {
	if len(a) != len(b) {
		return false
	}
	sortResources(a)
	sortResources(b)
	for i := range a {
		da, err1 := hex.DecodeString(a[i].Digest)
		db, err2 := hex.DecodeString(b[i].Digest)
		if err1 != nil || err2 != nil || a[i].Name != b[i].Name || !bytes.Equal(da, db) {
			return false
		}
	}
	return true
}
