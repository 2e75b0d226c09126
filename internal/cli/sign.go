package cli

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rampart-ai/rampart/internal/modelscan"
	"github.com/rampart-ai/rampart/internal/modelscan/all"
	"github.com/rampart-ai/rampart/internal/signing"
)

func newSignCmd(env *Env) *cobra.Command {
	var (
		keyPath, certPath, output, genDir string
		scan, forceShards                 bool
		shardSize                         = sizeValue(signing.DefaultShardSize)
	)
	c := &cobra.Command{
		Use:   "sign MODEL --key PRIVATE.pem | --generate-key DIR",
		Short: "Sign a model file or directory (OpenSSF Model Signing v1.0)",
		Long: `Sign a model file or directory in the OpenSSF Model Signing format v1.0: a
Sigstore bundle whose DSSE envelope carries an in-toto statement listing the
SHA-256 digest of every file and a root digest over them, signed with an
ECDSA P-256 key (and, with --cert, the certificate chain that vouches for it).

Files are hashed by streaming. When a file is larger than --shard-size, every
file is hashed in shards of that size ("path:start:end"). Symbolic links and
special files inside the model are refused: they are never signed.

The signature goes to model.sig inside the model directory (left out of the
hashed files), or beside a single model file; -o chooses another path.

--scan also scans every file with rampart's model scanner and signs the
verdicts as a second statement (predicate https://rampart.dev/scan/v1) over
the same root digest, written to model.scan.sig next to the signature
(FILE.scan for a signature not named *.sig). "rampart verify
--require-clean-scan" checks both.

--generate-key DIR writes a new ECDSA P-256 keypair: DIR/private.pem
(PKCS#8, mode 0600) and DIR/public.pem (PKIX).

Exit status: 0 signed (and, with --scan, scanned CLEAN); 1 signed, but the
scan verdict is not CLEAN; 2 usage or I/O error, or a model holding links.`,
		Example: `  rampart sign --generate-key ./keys
  rampart sign ./my-model --key ./keys/private.pem --scan
  rampart sign model.safetensors --key signer.pem --cert chain.pem -o model.safetensors.sig`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if genDir != "" {
				if len(args) > 0 || keyPath != "" {
					return Usage("--generate-key takes no MODEL and no --key")
				}
				priv, pub, err := signing.GenerateKey(genDir)
				if err != nil {
					return Usage("--generate-key: %v", err)
				}
				fmt.Fprintf(env.Stdout, "private key: %s\npublic key:  %s\n", priv, pub)
				return nil
			}
			if len(args) != 1 {
				return Usage("sign needs exactly one MODEL (see rampart sign --help)")
			}
			if keyPath == "" {
				return Usage("--key is required")
			}
			if shardSize <= 0 {
				return Usage("--shard-size must be positive")
			}
			model := args[0]
			signer, err := loadSigner(keyPath, certPath)
			if err != nil {
				return err
			}
			sigPath, scanPath, err := signing.SignaturePaths(model, output)
			if err != nil {
				return Usage("%v", err)
			}
			var ignore []string
			for _, p := range []string{sigPath, scanPath} {
				if rel, ok := signing.InsideModel(model, p); ok {
					ignore = append(ignore, rel)
				}
			}
			m, err := signing.Hash(model, signing.HashOptions{ShardSize: int64(shardSize), ForceShards: forceShards, Ignore: ignore})
			if err != nil {
				return Usage("cannot sign %s: %v", model, err)
			}
			payload, err := m.Payload()
			if err != nil {
				return err
			}
			b, err := signer.Sign(signing.PayloadType, payload)
			if err != nil {
				return err
			}
			var scanBundle *signing.Bundle
			var verdict string
			if scan {
				ctx := cmd.Context()
				if ctx == nil {
					ctx = context.Background()
				}
				eng := modelscan.New(modelscan.DefaultLimits(), nil, all.Analyzers()...)
				p, err := signing.Scan(ctx, eng, m)
				if err != nil {
					return Usage("scan: %v", err)
				}
				verdict = p.Verdict
				sp, err := signing.ScanPayload(m, p)
				if err != nil {
					return err
				}
				if scanBundle, err = signer.Sign(signing.PayloadType, sp); err != nil {
					return err
				}
				for _, f := range p.Files {
					if f.Verdict != modelscan.Clean.String() {
						fmt.Fprintf(env.Stderr, "rampart: %s: %s\n", f.Name, f.Verdict)
					}
				}
			}
			if err := writeBundle(sigPath, b); err != nil {
				return Usage("write signature: %v", err)
			}
			root, _ := signing.RootDigest(m.Resources)
			fmt.Fprintf(env.Stdout, "signed %s: %d files, %d resources (%s), root sha256:%x\nsignature: %s\n",
				m.Name, len(m.Files), len(m.Resources), m.Serialization.Method, root, sigPath)
			if scanBundle != nil {
				if err := writeBundle(scanPath, scanBundle); err != nil {
					return Usage("write scan attestation: %v", err)
				}
				fmt.Fprintf(env.Stdout, "scan attestation: %s (verdict %s)\n", scanPath, verdict)
				if verdict != modelscan.Clean.String() {
					return Findings("signed, but the scan verdict is %s: \"rampart verify --require-clean-scan\" will refuse this model", verdict)
				}
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&keyPath, "key", "", "ECDSA private key (PEM, PKCS#8 or SEC 1)")
	fl.StringVar(&certPath, "cert", "", "certificate chain for the key (PEM, leaf first), embedded in the signature")
	fl.StringVarP(&output, "output", "o", "", "signature path (default: model.sig inside the directory or beside the file)")
	fl.BoolVar(&scan, "scan", false, "scan the model and sign the verdicts as a second statement")
	fl.Var(&shardSize, "shard-size", "files larger than this switch the manifest to shards of this size (e.g. 1GiB)")
	fl.BoolVar(&forceShards, "shards", false, "always hash in shards of --shard-size")
	fl.StringVar(&genDir, "generate-key", "", "write a new ECDSA P-256 keypair into DIR and exit")
	return c
}

func loadSigner(keyPath, certPath string) (*signing.Signer, error) {
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, Usage("--key: %v", err)
	}
	key, err := signing.ParsePrivateKey(kb)
	if err != nil {
		return nil, Usage("--key %s: %v", keyPath, err)
	}
	var chain []*x509.Certificate
	if certPath != "" {
		cb, err := os.ReadFile(certPath)
		if err != nil {
			return nil, Usage("--cert: %v", err)
		}
		if chain, err = signing.ParseCertificates(cb); err != nil {
			return nil, Usage("--cert %s: %v", certPath, err)
		}
	}
	s, err := signing.NewSigner(key, chain)
	if err != nil {
		return nil, Usage("%v", err)
	}
	return s, nil
}

// writeBundle writes b atomically, readable by everyone: a signature is
// public.
func writeBundle(p string, b *signing.Bundle) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

// readBundle reads a signature file; a missing one fails verification.
func readBundle(what, p string) (*signing.Bundle, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, Findings("%s: no %s at %s", signing.ErrVerification, what, p)
	}
	if err != nil {
		return nil, Usage("%v", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, signing.MaxBundleBytes+1))
	if err != nil {
		return nil, Usage("read %s: %v", p, err)
	}
	b, err := signing.ParseBundle(data)
	if err != nil {
		return nil, Findings("%s: %v", p, err)
	}
	return b, nil
}

func newVerifyCmd(env *Env) *cobra.Command {
	var (
		keyPath, chainPath, identity, sigPath, scanSig string
		trustedRoot, issuer                            string
		requireScan                                    bool
	)
	c := &cobra.Command{
		Use:   "verify MODEL --key PUBLIC.pem | --cert-chain ROOTS.pem | --trusted-root trusted_root.json",
		Short: "Verify a model's signature (and, optionally, its clean scan)",
		Long: `Verify a model file or directory against its OpenSSF Model Signing v1.0
signature: the DSSE signature with the given public key, or the embedded
certificate chain against the given roots (code-signing EKU) and, with
--identity, the leaf's email or URI SAN; then the payload type, statement
type and predicate type; then every file, recomputed. Verification fails
on any tampered, missing, extra, renamed or symlinked file.

--require-clean-scan also requires the scan attestation written by "rampart
sign --scan" (model.scan.sig next to model.sig), signed by the same signer
over the same root digest, covering every file, with the verdict CLEAN.
This is the gate to run before a model server loads a model, e.g. as a
Kubernetes init container (see docs/signing.md).

Sigstore keyless bundles (a Fulcio certificate and a Rekor log entry, as
the model_signing tool writes with --sigstore) are verified offline with
--trusted-root (a Sigstore trusted_root.json) plus --identity (the
certificate's email or URI SAN) and --issuer (the OIDC issuer): the
certificate chain, at least one transparency-log entry and an observed
timestamp must check out. Scan attestations are written by "rampart sign
--scan" with a key, so --require-clean-scan needs --key or --cert-chain.

Exit status: 0 verified; 1 verification failed (the reason is printed);
2 usage or I/O error.`,
		Example: `  rampart verify ./my-model --key ./keys/public.pem --require-clean-scan
  rampart verify model.safetensors --cert-chain roots.pem --identity ml-release@example.com -s model.safetensors.sig
  rampart verify ./my-model --trusted-root trusted_root.json --identity ml-release@example.com --issuer https://accounts.google.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			model := args[0]
			if trustedRoot != "" {
				return verifyKeyless(env, model, sigPath, trustedRoot, identity, issuer, keyPath != "" || chainPath != "", requireScan)
			}
			if issuer != "" {
				return Usage("--issuer needs --trusted-root")
			}
			if (keyPath == "") == (chainPath == "") {
				return Usage("give exactly one of --key, --cert-chain or --trusted-root")
			}
			if identity != "" && chainPath == "" {
				return Usage("--identity needs --cert-chain or --trusted-root")
			}
			t := &signing.Trust{Identity: identity}
			if keyPath != "" {
				kb, err := os.ReadFile(keyPath)
				if err != nil {
					return Usage("--key: %v", err)
				}
				if t.Key, err = signing.ParsePublicKey(kb); err != nil {
					return Usage("--key %s: %v", keyPath, err)
				}
			} else {
				cb, err := os.ReadFile(chainPath)
				if err != nil {
					return Usage("--cert-chain: %v", err)
				}
				roots, err := signing.ParseCertificates(cb)
				if err != nil {
					return Usage("--cert-chain %s: %v", chainPath, err)
				}
				t.Roots = x509.NewCertPool()
				for _, r := range roots {
					t.Roots.AddCert(r)
				}
			}
			sp, defScan, err := signing.SignaturePaths(model, sigPath)
			if err != nil {
				return Usage("%v", err)
			}
			if scanSig == "" {
				scanSig = defScan
			}
			var ignore []string
			for _, p := range []string{sp, scanSig} {
				if rel, ok := signing.InsideModel(model, p); ok {
					ignore = append(ignore, rel)
				}
			}
			b, err := readBundle("signature", sp)
			if err != nil {
				return err
			}
			res, err := signing.VerifyModel(model, b, t, ignore)
			if err != nil {
				return verifyErr(err)
			}
			if requireScan {
				sb, err := readBundle("scan attestation (sign with --scan)", scanSig)
				if err != nil {
					return err
				}
				if _, err := signing.VerifyScan(sb, t, res); err != nil {
					return verifyErr(err)
				}
			}
			fmt.Fprintf(env.Stdout, "verified %s: %d files, %d resources (%s), root sha256:%s, signed by %s\n",
				model, res.Files, res.Resources, res.Method, res.RootDigest, res.Signer)
			if requireScan {
				fmt.Fprintln(env.Stdout, "scan attestation: CLEAN")
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&keyPath, "key", "", "ECDSA public key (PEM, PKIX) the model was signed with")
	fl.StringVar(&chainPath, "cert-chain", "", "trusted root certificates (PEM) for signatures that carry a certificate chain")
	fl.StringVar(&identity, "identity", "", "required email or URI SAN of the signing certificate")
	fl.StringVar(&trustedRoot, "trusted-root", "", "Sigstore trusted_root.json for offline verification of a keyless bundle")
	fl.StringVar(&issuer, "issuer", "", "OIDC issuer the keyless certificate must name (with --trusted-root)")
	fl.StringVarP(&sigPath, "signature", "s", "", "signature path (default: model.sig inside the directory or beside the file)")
	fl.StringVar(&scanSig, "scan-signature", "", "scan attestation path (default: model.scan.sig next to the signature)")
	fl.BoolVar(&requireScan, "require-clean-scan", false, "also require a signed scan attestation with the verdict CLEAN")
	return c
}

// verifyErr maps a verification failure to exit status 1 and anything
// else (a file that cannot be read) to 2.
func verifyErr(err error) error {
	if errors.Is(err, signing.ErrVerification) {
		return Findings("%v", err)
	}
	return Usage("%v", err)
}

// verifyKeyless verifies a Sigstore keyless signature of model offline.
func verifyKeyless(env *Env, model, sigPath, trustedRoot, identity, issuer string, withKey, requireScan bool) error {
	switch {
	case withKey:
		return Usage("--trusted-root is for keyless bundles: do not combine it with --key or --cert-chain")
	case identity == "" || issuer == "":
		return Usage("--trusted-root needs --identity and --issuer: a keyless signature is only as good as the identity it must carry")
	case requireScan:
		return Usage("--require-clean-scan needs the key-signed scan attestation (--key or --cert-chain)")
	}
	sp, scan, err := signing.SignaturePaths(model, sigPath)
	if err != nil {
		return Usage("%v", err)
	}
	var ignore []string
	for _, p := range []string{sp, scan} {
		if rel, ok := signing.InsideModel(model, p); ok {
			ignore = append(ignore, rel)
		}
	}
	res, err := signing.VerifyKeylessModel(model, sp, trustedRoot, signing.Keyless{Identity: identity, Issuer: issuer}, ignore)
	if err != nil {
		return verifyErr(err)
	}
	fmt.Fprintf(env.Stdout, "verified %s: %d files, %d resources (%s), root sha256:%s, signed by %s (keyless)\n",
		model, res.Files, res.Resources, res.Method, res.RootDigest, res.Signer)
	return nil
}
