package signing

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// SignaturePaths returns where the signature and the scan attestation of model
// go: -o if given, else model.sig inside a directory or beside a file. The
// scan attestation sits next to the signature so model.sig itself stays a
// single bundle that other Model Signing verifiers read.
func SignaturePaths(model, output string) (sig, scan string, err error) {
	sig = output
	if sig == "" {
		st, err := os.Stat(model)
		if err != nil {
			return "", "", err
		}
		if st.IsDir() {
			sig = filepath.Join(model, DefaultSignatureSig)
		} else {
			sig = filepath.Join(filepath.Dir(model), DefaultSignatureSig)
		}
	}
	return sig, ScanSignaturePath(sig), nil
}

// ScanSignaturePath is model.scan.sig for model.sig, FILE.scan otherwise.
func ScanSignaturePath(sig string) string {
	if base, ok := strings.CutSuffix(sig, ".sig"); ok {
		return base + ".scan.sig"
	}
	return sig + ".scan"
}

// InsideModel returns p relative to the model directory (slash form) when p
// lies inside it, so it is left out of the hashed files.
func InsideModel(model, p string) (string, bool) {
	st, err := os.Stat(model)
	if err != nil || !st.IsDir() {
		return "", false
	}
	am, err1 := filepath.Abs(model)
	ap, err2 := filepath.Abs(p)
	if err1 != nil || err2 != nil {
		return "", false
	}
	if rm, err := filepath.EvalSymlinks(am); err == nil {
		am = rm
	}
	if rd, err := filepath.EvalSymlinks(filepath.Dir(ap)); err == nil {
		ap = filepath.Join(rd, filepath.Base(ap))
	}
	rel, err := filepath.Rel(am, ap)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// Deployed is what a gateway shows about a model it serves: the result of
// verifying the files on disk against their signature (and scan
// attestation) when the config was loaded.
type Deployed struct {
	RootDigest string `json:"root_digest"`
	Signer     string `json:"signer"`
	Files      int    `json:"files"`
	Method     string `json:"method"`
	// Scan is "CLEAN" when a clean scan attestation was required and
	// verified, empty otherwise.
	Scan string `json:"scan,omitempty"`
}

// VerifyDeployed verifies the model at path against model.sig found where
// `rampart sign` puts it (and model.scan.sig when requireScan), with t.
// Every failure wraps ErrVerification or is an I/O error.
func VerifyDeployed(path string, t *Trust, requireScan bool) (*Deployed, error) {
	sig, scan, err := SignaturePaths(path, "")
	if err != nil {
		return nil, err
	}
	var ignore []string
	for _, p := range []string{sig, scan} {
		if rel, ok := InsideModel(path, p); ok {
			ignore = append(ignore, rel)
		}
	}
	read := func(p string) (*Bundle, error) {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil, failf("no signature at %s", p)
		}
		if err != nil {
			return nil, err
		}
		return ParseBundle(b)
	}
	b, err := read(sig)
	if err != nil {
		return nil, err
	}
	res, err := VerifyModel(path, b, t, ignore)
	if err != nil {
		return nil, err
	}
	d := &Deployed{RootDigest: res.RootDigest, Signer: res.Signer, Files: res.Files, Method: res.Method}
	if requireScan {
		sb, err := read(scan)
		if err != nil {
			return nil, fmt.Errorf("scan attestation: %w", err)
		}
		if _, err := VerifyScan(sb, t, res); err != nil {
			return nil, err
		}
		d.Scan = "CLEAN"
	}
	return d, nil
}
