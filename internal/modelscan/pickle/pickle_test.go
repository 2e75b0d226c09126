package pickle

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// scanFile runs the analyzer through the engine, as rampart scan does.
func scanFile(t *testing.T, path string, pol *modelscan.Policy) modelscan.Result {
	t.Helper()
	eng := modelscan.New(modelscan.DefaultLimits(), pol, New())
	res, err := eng.ScanFile(context.Background(), path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return res
}

func has(fs []modelscan.Finding, v modelscan.Verdict, callable, rule string) bool {
	for _, f := range fs {
		if f.Verdict == v && f.Callable == callable && (rule == "" || f.Rule == rule) {
			return true
		}
	}
	return false
}

func TestMaliciousCorpus(t *testing.T) {
	U, S, X := modelscan.Unsafe, modelscan.Suspicious, modelscan.Unscannable
	cases := []struct {
		file     string
		verdict  modelscan.Verdict // the file's verdict
		callable string            // a finding with this verdict names it
		rule     string            // and has this rule, when set
		also     modelscan.Verdict // another finding that must be present (0: none)
		alsoRule string
	}{
		{"os_system_p0.pkl", U, "os.system", "pickle.unsafe-callable", 0, ""},
		{"os_system_p1.pkl", U, "os.system", "", 0, ""},
		{"os_system_p2.pkl", U, "os.system", "", 0, ""},
		{"os_system_p3.pkl", U, "os.system", "", 0, ""},
		{"os_system_p4.pkl", U, "os.system", "", 0, ""},
		{"os_system_p5.pkl", U, "os.system", "", 0, ""},
		{"alias_posix.pkl", U, "posix.system", "", 0, ""},
		{"alias_nt.pkl", U, "nt.system", "", 0, ""},
		{"alias_builtin_eval.pkl", U, "__builtin__.eval", "", 0, ""},
		{"alias_operator_attrgetter.pkl", U, "_operator.attrgetter", "", 0, ""},
		{"alias_io_open.pkl", U, "_io.open", "", 0, ""},
		{"subprocess_popen.pkl", U, "subprocess.Popen", "", 0, ""},
		{"subprocess_submodule.pkl", U, "os.path.exists", "", 0, ""},
		{"dotted_torch_os.pkl", U, "torch.os.system", "", 0, ""},
		{"dotted_dunder.pkl", U, "collections.OrderedDict.__init__.__globals__", "", 0, ""},
		{"dotted_serialization_load.pkl", U, "torch.serialization.load", "", 0, ""},
		{"memo_hidden.pkl", U, "os.system", "", 0, ""},
		{"memo_hidden_long.pkl", U, "subprocess.check_output", "", 0, ""},
		{"getattr_import.pkl", U, "builtins.getattr", "pickle.runtime-callable", U, "pickle.unsafe-callable"},
		{"attrgetter.pkl", U, "operator.attrgetter", "pickle.runtime-callable", 0, ""},
		{"methodcaller.pkl", U, "operator.methodcaller", "pickle.runtime-callable", 0, ""},
		{"pkgutil_resolve_name.pkl", U, "pkgutil.resolve_name", "", 0, ""},
		{"pydoc_locate.pkl", U, "pydoc.locate", "", 0, ""},
		{"importlib_import_module.pkl", U, "importlib.import_module", "", 0, ""},
		{"functools_partial.pkl", U, "functools.partial", "", 0, ""},
		{"pip_main.pkl", U, "pip.main", "", 0, ""},
		{"runpy_run_path.pkl", U, "runpy.run_path", "", 0, ""},
		{"bdb_run.pkl", U, "bdb.Bdb.run", "", 0, ""},
		{"timeit_timeit.pkl", U, "timeit.timeit", "", 0, ""},
		{"cprofile_run.pkl", U, "cProfile.run", "", 0, ""},
		{"code_interact.pkl", U, "code.InteractiveInterpreter", "", 0, ""},
		{"ctypes_cdll.pkl", U, "ctypes.CDLL", "", 0, ""},
		{"types_codetype.pkl", U, "types.CodeType", "", 0, ""},
		{"pickle_loads.pkl", U, "pickle.loads", "", 0, ""},
		{"cpickle_loads.pkl", U, "_pickle.loads", "", 0, ""},
		{"torch_load.pkl", U, "torch.load", "", 0, ""},
		{"torch_load_from_bytes.pkl", U, "torch.storage._load_from_bytes", "", 0, ""},
		{"socket_connect.pkl", U, "socket.create_connection", "", 0, ""},
		{"urllib_urlopen.pkl", U, "urllib.request.urlopen", "", 0, ""},
		{"builtins_open.pkl", U, "builtins.open", "", 0, ""},
		{"result_popped.pkl", U, "os.system", "pickle.unsafe-callable", 0, ""},
		{"second_pickle.pkl", U, "os.system", "", 0, ""},
		{"payload_then_error.pkl", U, "os.system", "", X, "pickle.parse-error"},
		{"frame_lie.pkl", U, "os.system", "", X, "pickle.frame"},
		{"memo_bomb.pkl", S, "", "pickle.memo-bomb", 0, ""},
		{"huge_length.pkl", X, "", "pickle.parse-error", 0, ""},
		{"inst_os_system.pkl", U, "os.system", "", 0, ""},
		{"obj_os_system.pkl", U, "os.system", "", 0, ""},
		{"newobj_popen.pkl", U, "subprocess.Popen", "", 0, ""},
		{"newobj_ex_popen.pkl", U, "subprocess.Popen", "", 0, ""},
		{"build_on_global.pkl", U, "collections.OrderedDict", "pickle.global-mutation", 0, ""},
		{"ext_code.pkl", S, "<extension code 7>", "", 0, ""},
		{"named.txt", U, "os.system", "", 0, ""},
		{"named.bin", U, "os.system", "", 0, ""},
		{"unknown_class.pkl", S, "mypkg.models.Net", "", 0, ""},
		{"trailing_garbage.pkl", X, "", "pickle.trailing-data", 0, ""},
		{"unicode_escape_name.pkl", U, "os.system", "", 0, ""},
		{"joblib_hidden_opcodes.pkl", U, "os.system", "", 0, ""},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.file] = true
		t.Run(c.file, func(t *testing.T) {
			res := scanFile(t, filepath.Join("testdata/malicious", c.file), nil)
			if res.Format != "pickle" {
				t.Fatalf("format %q, want pickle", res.Format)
			}
			if res.Verdict != c.verdict {
				t.Errorf("verdict %v, want %v: %+v", res.Verdict, c.verdict, res.Findings)
			}
			if !has(res.Findings, c.verdict, c.callable, c.rule) {
				t.Errorf("no %v finding naming %q (rule %q): %+v", c.verdict, c.callable, c.rule, res.Findings)
			}
			if c.also != 0 && !has(res.Findings, c.also, findCallable(res.Findings, c.alsoRule), c.alsoRule) {
				t.Errorf("no %v finding with rule %s: %+v", c.also, c.alsoRule, res.Findings)
			}
			for _, f := range res.Findings {
				if f.Offset < 0 || f.Offset >= res.Size {
					t.Errorf("finding offset %d outside the file (%d bytes): %+v", f.Offset, res.Size, f)
				}
			}
		})
	}
	ents, err := os.ReadDir("testdata/malicious")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range ents {
		if !seen[en.Name()] {
			t.Errorf("corpus file %s has no expectation", en.Name())
		}
	}
}

func findCallable(fs []modelscan.Finding, rule string) string {
	for _, f := range fs {
		if f.Rule == rule {
			return f.Callable
		}
	}
	return "\x00none"
}

func TestBenignCorpus(t *testing.T) {
	ents, err := os.ReadDir("testdata/benign")
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) < 15 {
		t.Fatalf("only %d benign samples", len(ents))
	}
	for _, en := range ents {
		t.Run(en.Name(), func(t *testing.T) {
			res := scanFile(t, filepath.Join("testdata/benign", en.Name()), nil)
			if res.Format != "pickle" || res.Verdict != modelscan.Clean {
				t.Errorf("format %q verdict %v, want pickle CLEAN: %+v", res.Format, res.Verdict, res.Findings)
			}
		})
	}
}

func TestLegacyTorch(t *testing.T) {
	data, err := os.ReadFile("testdata/benign/torch_legacy_dtypes.pt")
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := ScanWith(context.Background(), bytes.NewReader(data), Options{Size: int64(len(data))})
	if err != nil || !st.LegacyTorch || st.Pickles != 5 || st.End != int64(len(data)) {
		t.Fatalf("stats %+v err %v", st, err)
	}
	tampered := map[string][]byte{
		"truncated storage":  data[:len(data)-3],
		"extra bytes":        append(append([]byte(nil), data...), 0x80, 0x02, 'N', '.'),
		"appended payload":   append(append([]byte(nil), data...), mustRead(t, "testdata/malicious/os_system_p2.pkl")...),
		"storage size lies":  lieAboutFirstStorage(data),
		"without keys known": bytes.Replace(data, []byte("storage"), []byte("stxrage"), 1),
	}
	for name, b := range tampered {
		t.Run(name, func(t *testing.T) {
			for _, size := range []int64{int64(len(b)), 0} { // known size, and a plain stream
				fs, _, err := ScanWith(context.Background(), bytes.NewReader(b), Options{Size: size})
				if err != nil {
					t.Fatal(err)
				}
				if v := modelscan.Worst(fs); v == modelscan.Clean {
					t.Errorf("size %d: tampered legacy file is CLEAN", size)
				}
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lieAboutFirstStorage makes the first storage record claim one element
// more, so the records no longer end at the end of the file.
func lieAboutFirstStorage(data []byte) []byte {
	b := append([]byte(nil), data...)
	start := int64(0)
	for i := 0; i < 5; i++ { // the records start after the fifth pickle
		_, st, _ := ScanWith(context.Background(), bytes.NewReader(b[start:]), Options{Single: true})
		start += st.End
	}
	n := binary.LittleEndian.Uint64(b[start:])
	binary.LittleEndian.PutUint64(b[start:], n+1)
	return b
}

func TestPolicy(t *testing.T) {
	pol := &modelscan.Policy{Allow: []string{"mypkg.models.*", "os.*", "builtins.eval"}}
	if res := scanFile(t, "testdata/malicious/unknown_class.pkl", pol); res.Verdict != modelscan.Clean {
		t.Errorf("policy-allowed class: %v %+v", res.Verdict, res.Findings)
	}
	for _, f := range []string{"os_system_p2.pkl", "alias_posix.pkl", "alias_builtin_eval.pkl"} {
		if res := scanFile(t, "testdata/malicious/"+f, pol); res.Verdict != modelscan.Unsafe {
			t.Errorf("%s: a policy allowed a denylisted callable: %v", f, res.Verdict)
		}
	}
}

func TestJudge(t *testing.T) {
	cases := []struct {
		module, name string
		want         modelscan.Verdict
	}{
		{"torch._utils", "_rebuild_tensor_v2", modelscan.Clean},
		{"torch", "FloatStorage", modelscan.Clean},
		{"torch", "bfloat16", modelscan.Clean},
		{"numpy.core.multiarray", "_reconstruct", modelscan.Clean},
		{"numpy._core.multiarray", "_reconstruct", modelscan.Clean},
		{"sklearn.linear_model._logistic", "LogisticRegression", modelscan.Clean},
		{"sklearn.datasets", "fetch_openml", modelscan.Unsafe},
		{"sklearn.utils", "some_function", modelscan.Suspicious},
		{"__builtin__", "set", modelscan.Clean},
		{"builtins", "getattr", modelscan.Unsafe},
		{"builtins", "type", modelscan.Suspicious},
		{"posixpath", "join", modelscan.Unsafe},
		{"os", "path.join", modelscan.Unsafe},
		{"nt", "system", modelscan.Unsafe},
		{"torch", "hub.load", modelscan.Unsafe},
		{"torch", "load", modelscan.Unsafe},
		{"numpy", "load", modelscan.Unsafe},
		{"mypkg", "Outer.code", modelscan.Suspicious},
		{"mypkg", "sys.modules", modelscan.Unsafe},
		{"mypkg", "x.__class__", modelscan.Unsafe},
		{"copyreg", "__newobj__", modelscan.Clean},
		{"mypkg", "__reduce__", modelscan.Unsafe},
		{"os ", "system", modelscan.Suspicious},
		{"", "system", modelscan.Suspicious},
		{"_io", "BytesIO", modelscan.Suspicious},
		{"webbrowser", "open", modelscan.Unsafe},
		{"asyncio.subprocess", "create_subprocess_shell", modelscan.Unsafe},
		{"collections", "defaultdict", modelscan.Clean},
		{"collections", "namedtuple", modelscan.Unsafe},
		{"functools", "reduce", modelscan.Unsafe},
	}
	for _, c := range cases {
		t.Run(c.module+"."+c.name, func(t *testing.T) {
			if got := judge(c.module, c.name, nil); got.verdict != c.want {
				t.Errorf("got %v (%s), want %v", got.verdict, got.reason, c.want)
			}
		})
	}
}

func TestArgumentChecks(t *testing.T) {
	// _codecs.encode with a codec other than text ones, and
	// copyreg._reconstructor with a class that is not a named global.
	bad := map[string][]byte{
		"codecs zlib":   []byte("\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R."),
		"codecs 1 arg":  []byte("\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00x\x85R."),
		"reconstructor": []byte("\x80\x02ccopyreg\n_reconstructor\nNNN\x87R."),
		"rebuild type":  []byte("\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(N))}tR."),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			fs, _, err := Scan(context.Background(), bytes.NewReader(b), 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			if modelscan.Worst(fs) != modelscan.Suspicious || fs[0].Rule != "pickle.unexpected-arguments" {
				t.Errorf("findings %+v", fs)
			}
		})
	}
	good := []byte("\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x06\x00\x00\x00latin1\x86R.")
	if fs, _, _ := Scan(context.Background(), bytes.NewReader(good), 0, nil); len(fs) != 0 {
		t.Errorf("latin1 encode: %+v", fs)
	}
}

func TestMatch(t *testing.T) {
	cases := []struct {
		name string
		head []byte
		want bool
	}{
		{"proto2", mustRead(t, "testdata/benign/plain_p2.pkl"), true},
		{"proto0", mustRead(t, "testdata/benign/plain_p0.pkl"), true},
		{"proto1", mustRead(t, "testdata/benign/plain_p1.pkl"), true},
		{"proto5", mustRead(t, "testdata/benign/numpy_p5.pkl"), true},
		{"global text", []byte("cos\nsystem\n(S'id'\ntR."), true},
		{"english", []byte("This is a readme for the model.\n"), false},
		{"markdown", []byte("# Model card\n\nweights in model.bin\n"), false},
		{"json", []byte(`{"architectures": ["Bert"]}`), false},
		{"yaml", []byte("name: x\nversion: 1\n"), false},
		{"csv", []byte("a,b,c\n1,2,3\n"), false},
		{"bad proto", []byte("\x80\x09N."), false},
		{"proto 1 byte", []byte("\x80"), false},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00"), false},
		{"numbers", []byte("1234567890\n"), false},
		{"global with spaces", []byte("cos system\nfoo bar\n)R."), false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := New().Match(c.head); got != c.want {
				t.Errorf("Match = %v, want %v", got, c.want)
			}
		})
	}
}

func TestTruncationEverywhere(t *testing.T) {
	// Every prefix of real pickles gets a verdict, never a panic, and a
	// proper prefix is never CLEAN.
	for _, f := range []string{"testdata/benign/sklearn_logreg_p4.pkl", "testdata/benign/torch_legacy.pt",
		"testdata/benign/numpy_p0.pkl", "testdata/malicious/os_system_p5.pkl"} {
		data := mustRead(t, f)
		for n := 0; n < len(data); n++ {
			for _, size := range []int64{int64(n), 0} {
				fs, _, err := ScanWith(context.Background(), bytes.NewReader(data[:n]), Options{Size: size})
				if err != nil {
					t.Fatalf("%s[:%d]: %v", f, n, err)
				}
				if modelscan.Worst(fs) == modelscan.Clean {
					t.Fatalf("%s[:%d] (size %d) is CLEAN: %+v", f, n, size, fs)
				}
			}
		}
	}
}

func TestOffsetAndSingle(t *testing.T) {
	data := mustRead(t, "testdata/malicious/second_pickle.pkl")
	fs, st, err := ScanWith(context.Background(), bytes.NewReader(data), Options{Offset: 1000})
	if err != nil || len(fs) != 1 || fs[0].Offset != 1000+27 || st.Pickles != 2 {
		t.Fatalf("findings %+v stats %+v err %v", fs, st, err)
	}
	fs, st, err = ScanWith(context.Background(), bytes.NewReader(data), Options{Single: true})
	if err != nil || len(fs) != 0 || st.Pickles != 1 || st.End != 6 {
		t.Fatalf("single: findings %+v stats %+v err %v", fs, st, err)
	}
}

type failReader struct{ n int }

func (r *failReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errors.New("disk on fire")
	}
	p[0] = ']'
	r.n--
	return 1, nil
}

func TestErrors(t *testing.T) {
	if _, _, err := Scan(context.Background(), &failReader{n: 3}, 0, nil); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("I/O error not returned: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Scan(ctx, bytes.NewReader(denseInts(100000)), 0, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
	budget := errors.New("budget")
	left := int64(1000)
	_, _, err := ScanWith(context.Background(), bytes.NewReader(denseInts(100000)), Options{Charge: func(n int64) error {
		left -= n
		if left < 0 {
			return budget
		}
		return nil
	}})
	if !errors.Is(err, budget) {
		t.Errorf("budget: %v", err)
	}
}

func TestHostileShapes(t *testing.T) {
	cases := map[string][]byte{
		"deep marks":       append(bytes.Repeat([]byte("("), 100000), '.'),
		"dup amplify":      append(append([]byte("\x80\x02N"), bytes.Repeat([]byte("2"), 200000)...), '.'),
		"memo get missing": []byte("\x80\x02h\x05."),
		"empty":            nil,
		"stop on empty":    []byte("."),
		"binstring neg":    []byte("T\xff\xff\xff\xff."),
		"long4 neg":        []byte("\x80\x02\x8b\xff\xff\xff\xff."),
		"frame in frame":   []byte("\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00\x95\x01\x00\x00\x00\x00\x00\x00\x00N."),
		"stack global int": []byte("\x80\x04KK\x93."),
		"new proto":        []byte("\x80\x06N."),
		"ext zero":         []byte("\x80\x02\x82\x00."),
		"odd setitems":     []byte("}(Nu."),
		"put negative":     []byte("Np-1\n."),
		"call data":        []byte("\x80\x02K\x01)R."),
		"call persistent":  []byte("\x80\x02NQ)R."),
		"memo holes":       memoHoles(20000),
		"untracked name":   []byte("\x80\x04X\x00\x04\x00\x00" + strings.Repeat("a", 1024) + "\x8c\x01b\x93."),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			fs, _, err := ScanWith(context.Background(), bytes.NewReader(b), Options{Size: int64(len(b))})
			if err != nil {
				t.Fatal(err)
			}
			if name == "deep marks" || name == "dup amplify" {
				return // legal, if odd: a verdict is all that is asked
			}
			if modelscan.Worst(fs) == modelscan.Clean {
				t.Errorf("CLEAN: %+v", fs)
			}
		})
	}
}

// denseInts is pickle.dumps(list(range(n)), protocol=2) as Python writes
// it: APPENDS batches of 1000.
func denseInts(n int) []byte {
	var b bytes.Buffer
	b.WriteString("\x80\x02]q\x00")
	for i := 0; i < n; i += 1000 {
		b.WriteByte('(')
		for j := i; j < i+1000 && j < n; j++ {
			switch {
			case j < 256:
				b.WriteByte('K')
				b.WriteByte(byte(j))
			case j < 65536:
				b.WriteByte('M')
				binary.Write(&b, binary.LittleEndian, uint16(j))
			default:
				b.WriteByte('J')
				binary.Write(&b, binary.LittleEndian, int32(j))
			}
		}
		b.WriteByte('e')
	}
	b.WriteByte('.')
	return b.Bytes()
}

// denseTuples is a list of n (int, int) tuples, memoized, in protocol 4
// framing-free form: the shape of "two million small objects".
func denseTuples(n int) []byte {
	var b bytes.Buffer
	b.WriteString("\x80\x04]\x94")
	for i := 0; i < n; i += 1000 {
		b.WriteByte('(')
		for j := i; j < i+1000 && j < n; j++ {
			b.WriteString("K\x01K\x02\x86\x94")
		}
		b.WriteByte('e')
	}
	b.WriteByte('.')
	return b.Bytes()
}

func TestDense(t *testing.T) {
	for name, b := range map[string][]byte{"ints": denseInts(300000), "tuples": denseTuples(300000)} {
		fs, st, err := Scan(context.Background(), bytes.NewReader(b), 0, nil)
		if err != nil || len(fs) != 0 || st.Pickles != 1 {
			t.Errorf("%s: findings %+v stats %+v err %v", name, fs, st, err)
		}
	}
}

var _ io.Reader = (*failReader)(nil)

func TestJoblibMode(t *testing.T) {
	data := mustRead(t, "testdata/benign/sklearn_logreg.joblib")
	fs, st, err := ScanWith(context.Background(), bytes.NewReader(data), Options{Size: int64(len(data)), Joblib: true})
	if err != nil || len(fs) != 0 || st.JoblibArrays < 6 || st.End != int64(len(data)) {
		t.Fatalf("joblib mode: findings %+v stats %+v err %v", fs, st, err)
	}
	// Read as a plain pickle, the array bytes are not opcodes.
	fs, st, _ = ScanWith(context.Background(), bytes.NewReader(data), Options{Size: int64(len(data))})
	if modelscan.Worst(fs) != modelscan.Unscannable || !st.JoblibWrapper {
		t.Fatalf("plain mode: findings %+v stats %+v", fs, st)
	}
	// Tampered array lengths are caught in joblib mode.
	for _, n := range []int{len(data) - 1, len(data) / 2} {
		fs, _, err := ScanWith(context.Background(), bytes.NewReader(data[:n]), Options{Size: int64(n), Joblib: true})
		if err != nil || modelscan.Worst(fs) == modelscan.Clean {
			t.Errorf("truncated to %d: %+v %v", n, fs, err)
		}
	}
	// The hidden-opcode sample: clean to joblib.load, a payload to pickle.load.
	mal := mustRead(t, "testdata/malicious/joblib_hidden_opcodes.pkl")
	fs, _, _ = ScanWith(context.Background(), bytes.NewReader(mal), Options{Joblib: true})
	if len(fs) != 0 {
		t.Errorf("joblib reading of the hidden-opcode sample: %+v", fs)
	}
}

// memoHoles writes LONG_BINPUT indexes 65 apart: no pickler does this.
func memoHoles(n int) []byte {
	b := []byte("\x80\x02N")
	for i := 0; i < n; i++ {
		b = append(b, 'r')
		b = binary.LittleEndian.AppendUint32(b, uint32(i*65))
	}
	return append(b, '.')
}
