// Package signing signs and verifies model files and directories in the
// OpenSSF Model Signing format v1.0, with the standard library's crypto
// only.
//
// A model is serialized to a [Manifest]: every regular file under the model
// root (or the one file) hashed with SHA-256 by streaming, or, when a file
// is larger than the shard size, every file split in fixed-size shards named
// "path:start:end". The manifest becomes an in-toto Statement v1 whose
// predicate (type https://model_signing/signature/v1.0) lists every resource
// and the serialization parameters, and whose single subject is the model's
// name with a root digest: SHA-256 over the raw digests of the resources,
// concatenated in manifest order (sorted by path component, then offset).
// The statement travels in a DSSE envelope signed with ECDSA (P-256 with
// SHA-256; P-384 with SHA-384 is accepted), inside a Sigstore bundle v0.3.
//
// Verification fails closed: every failure that says something about the
// model or its signature wraps [ErrVerification] with a specific reason
// (tampered, missing, extra, renamed or symlinked file, wrong key,
// certificate or identity, wrong payload or predicate type); any other
// error is an I/O or usage problem. Symbolic links are never followed
// inside a model and never signed. Sigstore keyless bundles (Fulcio
// certificates, Rekor entries) are not verified by this package.
package signing

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Format constants of Model Signing v1.0.
const (
	StatementType       = "https://in-toto.io/Statement/v1"
	PayloadType         = "application/vnd.in-toto+json"
	SignaturePredicate  = "https://model_signing/signature/v1.0"
	BundleMediaType     = "application/vnd.dev.sigstore.bundle.v0.3+json"
	MethodFiles         = "files"
	MethodShards        = "shards"
	HashSHA256          = "sha256"
	DefaultShardSize    = 1 << 30
	DefaultSignatureSig = "model.sig"
)

// hashBuffer is the read size while hashing: large enough that SHA-256,
// not system calls, bounds the throughput.
const hashBuffer = 1 << 20

// ErrVerification marks every verification failure (exit status 1).
var ErrVerification = errors.New("verification failed")

// ErrNotRegular reports a FIFO, device or socket inside a model: reading
// one could block, and what it yields is not a file anyone signed.
var ErrNotRegular = errors.New("not a regular file")

// ErrSymlink reports a symbolic link inside a model: the format is signed
// with allow_symlinks false, so what a link points at is never covered.
var ErrSymlink = errors.New("symbolic link")

func failf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerification, fmt.Sprintf(format, args...))
}

// Serialization records how a manifest was built, so a verifier rebuilds
// it the same way.
type Serialization struct {
	Method        string   `json:"method"`
	HashType      string   `json:"hash_type"`
	ShardSize     int64    `json:"shard_size,omitempty"`
	AllowSymlinks bool     `json:"allow_symlinks"`
	IgnorePaths   []string `json:"ignore_paths"`
}

// Resource is one hashed file or shard.
type Resource struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"`
}

// File is one regular file of a model.
type File struct {
	Name string // slash-separated, relative to the model root
	Path string // on disk
	Size int64
}

// Manifest is a serialized model.
type Manifest struct {
	Name          string
	Serialization Serialization
	Resources     []Resource
	Files         []File
}

// RootDigest is SHA-256 over the raw resource digests in manifest order.
func RootDigest(rs []Resource) ([]byte, error) {
	h := sha256.New()
	for _, r := range rs {
		d, err := hex.DecodeString(r.Digest)
		if err != nil || len(d) != sha256.Size || r.Algorithm != HashSHA256 {
			return nil, fmt.Errorf("resource %q: not a sha256 digest", r.Name)
		}
		h.Write(d)
	}
	return h.Sum(nil), nil
}

// HashOptions choose how a model is serialized when signing.
type HashOptions struct {
	// ShardSize: files larger than this switch the whole manifest to the
	// "shards" method with this shard size. Zero means DefaultShardSize.
	ShardSize int64
	// ForceShards uses the shards method even when every file is small.
	ForceShards bool
	// Ignore lists slash-separated paths relative to the model root that
	// are left out (the signature files themselves).
	Ignore []string
}

// Hash serializes the model at root (a file or a directory) for signing.
func Hash(root string, opts HashOptions) (*Manifest, error) {
	ss := opts.ShardSize
	if ss <= 0 {
		ss = DefaultShardSize
	}
	ignore := slices.Clone(opts.Ignore)
	if ignore == nil {
		ignore = []string{}
	}
	slices.Sort(ignore)
	ignore = slices.Compact(ignore)
	files, name, err := Collect(root, ignore)
	if err != nil {
		return nil, err
	}
	ser := Serialization{Method: MethodFiles, HashType: HashSHA256, IgnorePaths: ignore}
	if opts.ForceShards || slices.ContainsFunc(files, func(f File) bool { return f.Size > ss }) {
		ser.Method, ser.ShardSize = MethodShards, ss
	}
	rs, err := hashFiles(files, ser)
	if err != nil {
		return nil, err
	}
	return &Manifest{Name: name, Serialization: ser, Resources: rs, Files: files}, nil
}

// Collect lists the regular files of the model at root, in lexical order,
// leaving out ignored paths. A symbolic link or special file inside the
// model is an error wrapping ErrSymlink or naming the file type.
func Collect(root string, ignore []string) ([]File, string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, "", err
	}
	name := filepath.Base(abs)
	st, err := os.Lstat(abs)
	if err != nil {
		return nil, "", err
	}
	if st.Mode()&fs.ModeSymlink != 0 {
		return nil, "", fmt.Errorf("%s: %w: the model root must not be a link", root, ErrSymlink)
	}
	if !st.IsDir() {
		if !st.Mode().IsRegular() {
			return nil, "", fmt.Errorf("%s: %w (%s)", root, ErrNotRegular, st.Mode().Type())
		}
		return []File{{Name: name, Path: abs, Size: st.Size()}}, name, nil
	}
	var files []File
	err = filepath.WalkDir(abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == abs {
			return nil
		}
		rel, err := filepath.Rel(abs, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if ignored(rel, ignore) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch t := d.Type(); {
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("%q: %w", rel, ErrSymlink)
		case d.IsDir():
			return nil
		case !t.IsRegular():
			return fmt.Errorf("%q: %w (%s)", rel, ErrNotRegular, t)
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, File{Name: rel, Path: p, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return files, name, nil
}

func ignored(rel string, ignore []string) bool {
	for _, ig := range ignore {
		if rel == ig || strings.HasPrefix(rel, ig+"/") {
			return true
		}
	}
	return false
}

// hashFiles hashes every file per ser and returns resources in manifest
// order.
func hashFiles(files []File, ser Serialization) ([]Resource, error) {
	per, err := hashAll(files, ser)
	if err != nil {
		return nil, err
	}
	var rs []Resource
	for _, r := range per {
		rs = append(rs, r...)
	}
	sortResources(rs)
	return rs, nil
}

// hashAll hashes files on a few goroutines (SHA-256 is the bound, one core
// per file); out[i] belongs to files[i]. The first error wins.
func hashAll(files []File, ser Serialization) ([][]Resource, error) {
	out := make([][]Resource, len(files))
	errs := make([]error, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 8, max(len(files), 1)) {
		wg.Go(func() {
			buf := make([]byte, hashBuffer)
			for i := range next {
				out[i], errs[i] = hashFile(files[i], ser, buf)
			}
		})
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func hashFile(f File, ser Serialization, buf []byte) ([]Resource, error) {
	fh, err := openRegular(f.Path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if ser.Method == MethodFiles {
		d, err := hashRange(fh, 0, size, buf)
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", f.Name, err)
		}
		return []Resource{{Name: f.Name, Algorithm: HashSHA256, Digest: d}}, nil
	}
	var rs []Resource
	for start := int64(0); start < size || (start == 0 && size == 0); start += ser.ShardSize {
		end := min(start+ser.ShardSize, size)
		d, err := hashRange(fh, start, end, buf)
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", f.Name, err)
		}
		rs = append(rs, Resource{Name: shardName(f.Name, start, end), Algorithm: HashSHA256, Digest: d})
		if size == 0 {
			break
		}
	}
	return rs, nil
}

// openRegular opens path and makes sure what was opened is a regular file
// and not a link swapped in after the walk.
func openRegular(p string) (*os.File, error) {
	lst, err := os.Lstat(p)
	if err != nil {
		return nil, err
	}
	if lst.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%s: %w", p, ErrSymlink)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() || !os.SameFile(st, lst) {
		f.Close()
		if err == nil {
			err = fmt.Errorf("%s: %w, or changed while being opened", p, ErrNotRegular)
		}
		return nil, err
	}
	return f, nil
}

func hashRange(r io.ReaderAt, start, end int64, buf []byte) (string, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.NewSectionReader(r, start, end-start), buf)
	if err != nil {
		return "", err
	}
	if n != end-start {
		return "", fmt.Errorf("short read at %d: file changed while being read", start+n)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func shardName(name string, start, end int64) string {
	return name + ":" + strconv.FormatInt(start, 10) + ":" + strconv.FormatInt(end, 10)
}

// splitShard parses "path:start:end" from the right, so a path may hold a
// colon.
func splitShard(name string) (p string, start, end int64, ok bool) {
	i := strings.LastIndexByte(name, ':')
	if i < 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(name[:i], ':')
	if j < 0 {
		return "", 0, 0, false
	}
	s, err1 := strconv.ParseInt(name[j+1:i], 10, 64)
	e, err2 := strconv.ParseInt(name[i+1:], 10, 64)
	if err1 != nil || err2 != nil || s < 0 || e < s {
		return "", 0, 0, false
	}
	return name[:j], s, e, true
}

// resourcePath is the file a resource belongs to.
func resourcePath(r Resource, method string) string {
	if method == MethodShards {
		if p, _, _, ok := splitShard(r.Name); ok {
			return p
		}
	}
	return r.Name
}

// sortResources orders resources as the reference implementation does:
// by path component, then by shard start and end.
func sortResources(rs []Resource) {
	key := func(r Resource) ([]string, int64, int64) {
		if p, s, e, ok := splitShard(r.Name); ok {
			return strings.Split(p, "/"), s, e
		}
		return strings.Split(r.Name, "/"), 0, 0
	}
	slices.SortStableFunc(rs, func(a, b Resource) int {
		pa, sa, ea := key(a)
		pb, sb, eb := key(b)
		if c := slices.Compare(pa, pb); c != 0 {
			return c
		}
		if sa != sb {
			return cmpInt(sa, sb)
		}
		return cmpInt(ea, eb)
	})
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// validName reports whether a signed resource path is a clean relative
// slash path that cannot leave the model root.
func validName(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return false
	}
	if path.Clean(p) != p {
		return false
	}
	for _, c := range strings.Split(p, "/") {
		if c == ".." || c == "." {
			return false
		}
	}
	return true
}

// fingerprint is a file's content as the manifest records it, without its
// name, so a renamed file can be recognised.
func fingerprint(rs []Resource, method string) string {
	var b bytes.Buffer
	for _, r := range rs {
		if method == MethodShards {
			if _, s, e, ok := splitShard(r.Name); ok {
				fmt.Fprintf(&b, "%d:%d:", s, e)
			}
		}
		b.WriteString(r.Digest)
		b.WriteByte(';')
	}
	return b.String()
}
