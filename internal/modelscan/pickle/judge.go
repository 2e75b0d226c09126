package pickle

import (
	"strings"

	"github.com/rampart-ai/rampart/internal/modelscan"
)

// aliases maps a module name as a pickle may spell it to the module it is
// at load time. The platform modules (posix, nt, posixpath, ntpath) are
// what os and os.path pickle as; the underscore modules are the C
// implementations that the public modules re-export; the Python 2 names are
// mapped by the unpickler's fix_imports.
var aliases = map[string]string{
	"posix":            "os",
	"nt":               "os",
	"posixpath":        "os.path",
	"ntpath":           "os.path",
	"genericpath":      "os.path",
	"__builtin__":      "builtins",
	"exceptions":       "builtins",
	"_operator":        "operator",
	"_io":              "io",
	"_pyio":            "io",
	"_pickle":          "pickle",
	"cPickle":          "pickle",
	"_compat_pickle":   "pickle",
	"_functools":       "functools",
	"_socket":          "socket",
	"_posixsubprocess": "subprocess",
	"_ctypes":          "ctypes",
	"_multiprocessing": "multiprocessing",
	"thread":           "_thread",
	"_winreg":          "winreg",
	"_collections":     "collections",
	"copy_reg":         "copyreg",
	"_lsprof":          "cProfile",
	"_asyncio":         "asyncio",
	"_sqlite3":         "sqlite3",
	"_signal":          "signal",
	"urllib2":          "urllib",
	"httplib":          "http",
	"commands":         "subprocess",
	"_bz2":             "bz2",
	"_lzma":            "lzma",
}

// dangerousModules: importing anything from these (or their submodules)
// runs code, spawns processes, touches files or the network, or loads
// further pickles. No mainstream model file needs any of them, so every
// attribute is UNSAFE, including data-only helpers such as os.path.join:
// a model that references os at all is not a plain model.
var dangerousModules = setOf(
	"os", "subprocess", "pty", "shutil", "socket", "socketserver", "sys", "importlib", "imp", "zipimport",
	"runpy", "pip", "ensurepip", "setuptools", "distutils", "venv", "site", "bdb", "pdb", "timeit",
	"cProfile", "profile", "pstats", "trace", "tracemalloc", "code", "codeop", "ctypes", "cffi", "marshal",
	"pickle", "dill", "cloudpickle", "shelve", "dbm", "sqlite3", "multiprocessing", "concurrent",
	"_thread", "threading", "signal", "webbrowser", "http", "urllib", "urllib3", "requests", "httpx",
	"aiohttp", "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "nntplib", "xmlrpc", "ssl",
	"asyncio", "tempfile", "glob", "pathlib", "fileinput", "linecache", "zipfile", "tarfile", "platform",
	"pkgutil", "pydoc", "doctest", "idlelib", "winreg", "msvcrt", "_winapi",
	"resource", "mmap", "fcntl", "termios", "select", "selectors", "gc", "inspect", "types",
	"pickletools", "sysconfig", "logging.config", "logging.handlers", "atexit", "faulthandler", "readline", "rlcompleter", "cmd",
	"torch.hub", "torch.jit", "torch.package", "torch.utils.cpp_extension", "torch.ops", "torch._ops",
	"torch.distributed", "torch.multiprocessing", "numpy.ctypeslib",
	"numpy.distutils", "numpy.f2py", "numpy.testing", "joblib.parallel", "joblib.memory",
)

// dangerousNames are single callables, in otherwise acceptable modules,
// that run code, build callables, touch files or load nested pickles.
var dangerousNames = setOf(
	// builtins that evaluate code, reach attributes by name, or do I/O.
	"builtins.eval", "builtins.exec", "builtins.compile", "builtins.open", "builtins.getattr",
	"builtins.setattr", "builtins.delattr", "builtins.__import__", "builtins.input", "builtins.breakpoint",
	"builtins.globals", "builtins.locals", "builtins.vars", "builtins.exit", "builtins.quit",
	"builtins.help", "builtins.__build_class__", "builtins.__loader__", "builtins.execfile",
	"builtins.reload", "builtins.file", "builtins.raw_input", "builtins.copyright", "builtins.credits",
	"builtins.license", "builtins.print",
	// callables that build callables or invoke what they are given.
	"operator.attrgetter", "operator.methodcaller", "operator.call", "operator.__call__",
	"functools.partial", "functools.partialmethod", "functools.reduce", "functools.singledispatch",
	"functools.wraps", "functools.update_wrapper", "functools.cached_property", "functools.lru_cache",
	"types.CodeType", "types.FunctionType", "types.LambdaType", "types.MethodType",
	// file access and nested loaders.
	"io.open", "io.open_code", "io.FileIO", "io.TextIOWrapper", "io.BufferedReader", "io.BufferedWriter",
	"io.BufferedRandom", "codecs.open", "codecs.EncodedFile", "_codecs.lookup", "codecs.lookup",
	"copyreg.add_extension", "copyreg.remove_extension", "copyreg.pickle", "copyreg.constructor",
	"torch.load", "torch.save", "torch.serialization.load", "torch.serialization.save",
	"torch.serialization._load", "torch.serialization._legacy_load", "torch.storage._load_from_bytes",
	"torch.from_file", "torch._C._load_for_lite_interpreter", "torch.load_library",
	"numpy.load", "numpy.save", "numpy.savez", "numpy.fromfile", "numpy.loadtxt", "numpy.genfromtxt",
	"numpy.memmap", "numpy.lib.npyio.load", "numpy.core.memmap.memmap", "numpy.lib.format.read_array",
	"joblib.load", "joblib.dump", "joblib.numpy_pickle.load", "joblib.numpy_pickle.dump",
	"sklearn.datasets.fetch_openml", "collections.namedtuple",
)

// allowed lists known-safe constructors, keyed by normalised module and
// qualname. Rationale: each is a constructor of pure data that mainstream
// ML libraries emit when pickling their own objects, and none of them
// calls back into code chosen by the pickle except through arguments that
// are themselves globals (and so judged on their own).
//
//   - builtins: the containers and scalars pickle itself emits for
//     protocols 0–2 (set, frozenset, bytearray, bytes via protocol 2,
//     complex, slice, range, object for copyreg._reconstructor).
//   - copyreg: _reconstructor and __newobj__/__newobj_ex__ are how
//     protocols 0–1 and reduce_ex rebuild plain instances; the class they
//     instantiate is a separate global and judged separately, and
//     _reconstructor's arguments are inspected (class and base must be
//     globals).
//   - _codecs.encode: how protocols 0–2 carry bytes (numpy does this);
//     allowed only with two arguments and a Latin-1/UTF-8/ASCII encoding.
//   - collections: OrderedDict (every torch state_dict), defaultdict (its
//     factory is a global, judged on its own, and only runs on a missing
//     key, not at load), Counter, deque.
//   - PyTorch: tensor, parameter and storage rebuilds, storage classes,
//     dtypes, layouts, memory formats, devices and sizes: what torch.save
//     writes for state dicts, in the zip and the legacy format.
//     _rebuild_from_type_v2 calls its first argument, so that argument must
//     be a global.
//   - NumPy (numpy.core and numpy._core for NumPy 2): array and scalar
//     reconstruction, dtypes, the protocol 5 _frombuffer path and the
//     random generators' pickle helpers (scikit-learn keeps RandomState).
//   - scikit-learn: every class (CamelCase name) under sklearn.*, because
//     estimators, trees and losses pickle as their own classes; sklearn
//     functions are not allowed by prefix.
//   - joblib's NumpyArrayWrapper and NDArrayWrapper, the placeholders its
//     pickles hold for arrays written beside the pickle.
//   - datetime, decimal, fractions, uuid: value types.
var allowed = setOf(
	"builtins.set", "builtins.frozenset", "builtins.bytearray", "builtins.bytes", "builtins.complex",
	"builtins.slice", "builtins.range", "builtins.object", "builtins.list", "builtins.dict",
	"builtins.tuple", "builtins.int", "builtins.float", "builtins.str", "builtins.bool",
	"copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__",
	"_codecs.encode", "codecs.encode",
	"collections.OrderedDict", "collections.defaultdict", "collections.Counter", "collections.deque",
	"datetime.datetime", "datetime.date", "datetime.time", "datetime.timedelta", "datetime.timezone",
	"decimal.Decimal", "fractions.Fraction", "uuid.UUID",
	// PyTorch.
	"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor_v3",
	"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
	"torch._utils._rebuild_qtensor", "torch._utils._rebuild_sparse_tensor",
	"torch._utils._rebuild_sparse_csr_tensor", "torch._utils._rebuild_device_tensor_from_numpy",
	"torch._utils._rebuild_meta_tensor_no_storage", "torch._utils._rebuild_nested_tensor",
	"torch._utils._rebuild_wrapper_subclass", "torch._utils._rebuild_xla_tensor",
	"torch._utils._rebuild_mps_tensor", "torch._tensor._rebuild_from_type",
	"torch._tensor._rebuild_from_type_v2", "torch.serialization._get_layout",
	"torch.device", "torch.Size", "torch.Tensor", "torch.nn.parameter.Parameter",
	"torch.nn.parameter.Buffer", "torch.storage.TypedStorage", "torch.storage.UntypedStorage",
	"torch.storage._TypedStorage", "torch.storage._UntypedStorage", "torch.UntypedStorage",
	"torch.TypedStorage", "torch.return_types.max", "torch.return_types.min",
	"torch.strided", "torch.sparse_coo", "torch.sparse_csr", "torch.sparse_csc", "torch.sparse_bsr",
	"torch.sparse_bsc", "torch._mkldnn", "torch.per_tensor_affine", "torch.per_channel_affine",
	"torch.per_tensor_symmetric", "torch.per_channel_symmetric", "torch.per_channel_affine_float_qparams",
	"torch.contiguous_format", "torch.channels_last", "torch.channels_last_3d", "torch.preserve_format",
	// NumPy.
	"numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
	"numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.core.numeric._frombuffer",
	"numpy._core.numeric._frombuffer", "numpy.ma.core._mareconstruct", "numpy.ma.core.MaskedArray",
	"numpy.random._pickle.__randomstate_ctor", "numpy.random._pickle.__generator_ctor",
	"numpy.random._pickle.__bit_generator_ctor", "numpy.random.mtrand.RandomState",
	"numpy.random._mt19937.MT19937", "numpy.random._pcg64.PCG64", "numpy.random._philox.Philox",
	"numpy.random._sfc64.SFC64", "numpy.random._generator.Generator", "numpy.random.bit_generator.SeedSequence",
	// joblib.
	"joblib.numpy_pickle.NumpyArrayWrapper", "joblib.numpy_pickle.NDArrayWrapper",
	"joblib.numpy_pickle_compat.NDArrayWrapper", "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
)

// classPrefixes allow every CamelCase class under a package: estimators and
// layers pickle as their own classes and are too many to list.
var classPrefixes = []string{"sklearn.", "torch.nn.modules."}

func init() {
	// Scalar and dtype names torch pickles by name (torch.float32 is a
	// global, not a getattr), and its storage classes.
	for _, d := range []string{"float32", "float", "float64", "double", "float16", "half", "bfloat16",
		"complex32", "chalf", "complex64", "cfloat", "complex128", "cdouble", "uint8", "int8", "int16",
		"short", "int32", "int", "int64", "long", "bool", "qint8", "quint8", "qint32", "quint4x2", "quint2x4",
		"float8_e4m3fn", "float8_e5m2", "uint16", "uint32", "uint64"} {
		allowed["torch."+d] = struct{}{}
	}
	for name := range storageElemSize {
		allowed["torch."+name] = struct{}{}
		allowed["torch.cuda."+name] = struct{}{}
	}
}

// storageElemSize is the element size of each torch storage class, which
// the legacy format needs to walk the raw storage records after its
// pickles.
var storageElemSize = map[string]int64{
	"DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
	"IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
	"ComplexDoubleStorage": 16, "ComplexFloatStorage": 8, "QInt8Storage": 1, "QUInt8Storage": 1,
	"QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1, "UntypedStorage": 1,
}

func setOf(names ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	return m
}

// argCheck names an allowlisted callable whose arguments decide whether a
// call is safe.
type argCheck uint8

const (
	checkNone argCheck = iota
	checkCodecs
	checkReconstructor
	checkRebuildFromType
)

var argChecks = map[string]argCheck{
	"_codecs.encode":                      checkCodecs,
	"codecs.encode":                       checkCodecs,
	"copyreg._reconstructor":              checkReconstructor,
	"torch._tensor._rebuild_from_type_v2": checkRebuildFromType,
	"torch._tensor._rebuild_from_type":    checkRebuildFromType,
}

// judgement is the verdict on one global.
type judgement struct {
	verdict modelscan.Verdict
	reason  string
	check   argCheck
}

func normModule(m string) string {
	first, rest, dotted := strings.Cut(m, ".")
	if a, ok := aliases[first]; ok {
		if dotted {
			return a + "." + rest
		}
		return a
	}
	return m
}

func isDunder(s string) bool {
	return len(s) > 4 && strings.HasPrefix(s, "__") && strings.HasSuffix(s, "__")
}

// judge decides one global: the denylist first (a policy can never allow
// what it names), then the built-in allowlist, then the team policy;
// everything else is suspicious.
func judge(module, name string, pol *modelscan.Policy) judgement {
	if module == "" || name == "" || strings.ContainsAny(module+name, " \t\r\n\x00/\\:;'\"()[]{}") ||
		strings.HasPrefix(module, ".") || strings.HasSuffix(module, ".") || strings.Contains(module, "..") ||
		strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return judgement{modelscan.Suspicious, "malformed module or name", checkNone}
	}
	norm := normModule(module)
	full := norm + "." + name
	segs := strings.Split(full, ".")
	if len(segs) > 32 {
		// Judging walks every split of the path; no real name is this deep.
		return judgement{modelscan.Suspicious, "dotted path too deep to judge", checkNone}
	}
	nm := strings.Count(norm, ".") + 1
	if r := deniedPath(segs); r != "" {
		return judgement{modelscan.Unsafe, r, checkNone}
	}
	nameSegs := segs[nm:]
	if len(nameSegs) > 1 {
		// Protocol 4 resolves dotted names with getattr: any walk through a
		// dunder (__globals__, __builtins__, __class__, __subclasses__…)
		// escapes to arbitrary objects.
		for _, s := range nameSegs {
			if isDunder(s) {
				return judgement{modelscan.Unsafe, "attribute path through " + s + " reaches arbitrary objects", checkNone}
			}
		}
		// Walks through an imported module ("torch.os.system").
		for j := nm; j < len(segs)-1; j++ {
			sub := append([]string{normModule(segs[j])}, segs[j+1:]...)
			if r := deniedPath(strings.Split(strings.Join(sub, "."), ".")); r != "" {
				return judgement{modelscan.Unsafe, "attribute path reaches " + r, checkNone}
			}
		}
	}
	if _, ok := allowed[full]; ok {
		return judgement{modelscan.Clean, "", argChecks[full]}
	}
	last := nameSegs[len(nameSegs)-1]
	if isClassName(last) {
		for _, p := range classPrefixes {
			if strings.HasPrefix(full, p) {
				return judgement{modelscan.Clean, "", checkNone}
			}
		}
	}
	if pol.Allows(module, name) || pol.Allows(norm, name) {
		return judgement{modelscan.Clean, "", checkNone}
	}
	if isDunder(last) {
		return judgement{modelscan.Unsafe, "dunder attribute " + last + " is not a constructor", checkNone}
	}
	return judgement{modelscan.Suspicious, "not on the allowlist of known-safe constructors", checkNone}
}

// deniedPath reports why the dotted path segs is dangerous, or "" when it
// is not: a dangerous module anywhere along the path (followed by an
// attribute), or a dangerous callable at any prefix.
func deniedPath(segs []string) string {
	p := ""
	for i, s := range segs {
		if i == 0 {
			p = s
		} else {
			p += "." + s
		}
		if _, ok := dangerousModules[p]; ok && i < len(segs)-1 {
			return "module " + p + " runs code, processes, files or network"
		}
		if _, ok := dangerousNames[p]; ok {
			return p + " runs code, builds callables, touches files or loads nested pickles"
		}
	}
	return ""
}

// isClassName: CamelCase after leading underscores, the convention for
// classes in the packages allowed by prefix.
func isClassName(s string) bool {
	s = strings.TrimLeft(s, "_")
	return s != "" && s[0] >= 'A' && s[0] <= 'Z'
}
