package oip

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
	"github.com/rampart-ai/rampart/internal/protocol/jsonstrict"
)

// maxRank is the most dimensions a tensor shape may have.
const maxRank = 32

// DecodeInfer decodes an inference request body into inf: Tensors,
// Parameters (the request's scalar parameters), BodyBytes, BinaryBytes and
// Protocol. The route fields (Model, Operation…) come from [Route].
//
// jsonLen is the Inference-Header-Content-Length header, or -1 when absent.
// When present, body[:jsonLen] is the JSON header and the rest is Triton
// binary tensor data, which must match the inputs' binary_data_size
// parameters exactly.
//
// The request is held to the protocol strictly, because anything Rampart
// lets through unread is something its validation never saw: unknown keys
// in the request, inputs and outputs are errors, every input needs a name,
// datatype, shape and exactly one of data or binary_data_size, data must
// match shape and datatype element by element, input names must be
// unique, and shared-memory inputs and outputs (whose data never passes
// through the gateway) are refused.
//
// Data may be flat, or nested exactly as the shape says. Floating-point
// data may use the strings "NaN", "Inf", "+Inf", "-Inf", "Infinity",
// "+Infinity" and "-Infinity", since JSON numbers cannot express them; they
// are counted in Tensor.NaNs and Tensor.Infs for validation to judge.
// Finite values beyond the datatype's range (above 65504 for FP16) are
// errors, not silent infinities.
//
// Errors are *rampart.Error: CodeTooLarge for a breached limit, otherwise
// CodeInvalid, with a message that names the input and the problem.
func DecodeInfer(body []byte, jsonLen int, lim protocol.Limits, inf *rampart.Inference) error {
	lim = lim.Normalize()
	if int64(len(body)) > lim.MaxBodyBytes {
		return rampart.Errorf(rampart.CodeTooLarge, "request body is %d bytes, the limit is %d", len(body), lim.MaxBodyBytes)
	}
	header := body
	if jsonLen >= 0 {
		if jsonLen > len(body) {
			return rampart.Errorf(rampart.CodeInvalid, "Inference-Header-Content-Length is %d but the body is only %d bytes", jsonLen, len(body))
		}
		header = body[:jsonLen]
	}
	inf.Protocol = rampart.ProtocolOIP
	inf.BodyBytes = len(body)
	inf.BinaryBytes = 0
	inf.Tensors = nil

	p := parser{d: jsonstrict.Get(header, lim), lim: lim, inf: inf}
	defer jsonstrict.Put(p.d)
	if err := p.request(); err != nil {
		return err
	}
	if err := p.d.Finish(); err != nil {
		return err
	}
	if err := p.uniqueNames(); err != nil {
		return err
	}
	var bin []byte
	if jsonLen >= 0 {
		bin = body[jsonLen:]
	}
	return p.checkBinary(bin, jsonLen >= 0)
}

type parser struct {
	d   *jsonstrict.Decoder
	lim protocol.Limits
	inf *rampart.Inference
	// isBinary marks the tensors whose data is in the binary extension.
	isBinary []bool
}

func invalid(format string, args ...any) error {
	return rampart.Errorf(rampart.CodeInvalid, format, args...)
}

func (p *parser) request() error {
	d := p.d
	if k, err := d.Peek(); err != nil {
		return err
	} else if k != jsonstrict.Object {
		return invalid("request body must be a JSON object, not %s", k)
	}
	if err := d.BeginObject(); err != nil {
		return err
	}
	sawInputs := false
	for {
		key, ok, err := d.Key()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "id":
			if err := p.want(jsonstrict.String, where{field: "id"}, "a string"); err != nil {
				return err
			}
			if _, err := d.String(); err != nil {
				return err
			}
		case "parameters":
			params, err := p.parameters(where{field: "parameters"})
			if err != nil {
				return err
			}
			p.inf.Parameters = params
		case "inputs":
			sawInputs = true
			if err := p.inputs(); err != nil {
				return err
			}
		case "outputs":
			if err := p.outputs(); err != nil {
				return err
			}
		default:
			return invalid("unknown field %s in inference request", quote(key))
		}
	}
	if !sawInputs {
		return invalid("inference request has no \"inputs\"")
	}
	return nil
}

// want checks the kind of the next value, naming the field when wrong.
func (p *parser) want(k jsonstrict.Kind, field where, what string) error {
	got, err := p.d.Peek()
	if err != nil {
		return err
	}
	if got != k {
		return invalid("%s must be %s, not %s", field, what, got)
	}
	return nil
}

// parameters reads a parameters object, keeping its scalar values.
func (p *parser) parameters(field where) (map[string]any, error) {
	d := p.d
	if err := p.want(jsonstrict.Object, field, "an object"); err != nil {
		return nil, err
	}
	if err := d.BeginObject(); err != nil {
		return nil, err
	}
	var out map[string]any
	for {
		key, ok, err := d.Key()
		if err != nil {
			return nil, err
		}
		if !ok {
			return out, nil
		}
		if isSharedMemory(key) {
			return nil, invalid("%s: shared-memory parameters are not supported through the gateway", field)
		}
		name := string(key)
		v, scalar, err := d.Scalar()
		if err != nil {
			return nil, err
		}
		if !scalar {
			if err := d.Skip(); err != nil {
				return nil, err
			}
			continue
		}
		if out == nil {
			out = make(map[string]any, 4)
		}
		out[name] = v
	}
}

func isSharedMemory(key []byte) bool {
	return strings.HasPrefix(string(key), "shared_memory_")
}

func (p *parser) inputs() error {
	d := p.d
	if err := p.want(jsonstrict.Array, where{field: "inputs"}, "an array"); err != nil {
		return err
	}
	if err := d.BeginArray(); err != nil {
		return err
	}
	if p.inf.Tensors == nil {
		p.inf.Tensors = make([]rampart.Tensor, 0, 1)
	}
	for i := 0; ; i++ {
		more, err := d.More()
		if err != nil {
			return err
		}
		if !more {
			if i == 0 {
				return invalid("inference request has no inputs")
			}
			return nil
		}
		if i >= p.lim.MaxTensors {
			return rampart.Errorf(rampart.CodeTooLarge, "inference request has more than %d inputs", p.lim.MaxTensors)
		}
		p.inf.Tensors = append(p.inf.Tensors, rampart.Tensor{})
		t := &p.inf.Tensors[len(p.inf.Tensors)-1]
		bin, err := p.input(i, t)
		if err != nil {
			return err
		}
		if bin {
			if p.isBinary == nil {
				p.isBinary = make([]bool, 0, p.lim.MaxTensors)
			}
			for len(p.isBinary) < i {
				p.isBinary = append(p.isBinary, false)
			}
			p.isBinary = append(p.isBinary, true)
		}
	}
}

// where names a place in the request for messages; it is formatted only
// when a message is made, keeping the success path allocation free.
type where struct {
	kind  string // "input", "output" or "" for a top-level field
	i     int
	name  string
	field string
}

func (w where) String() string {
	if w.kind == "" {
		return w.field
	}
	s := label(w.kind, w.i, w.name)
	if w.field != "" {
		s += " " + w.field
	}
	return s
}

// label names a tensor in messages: by name once known, else by index.
func label(kind string, i int, name string) string {
	if name == "" {
		return kind + "s[" + strconv.Itoa(i) + "]"
	}
	return kind + " " + quote([]byte(name))
}

// quote quotes client text for a message, cut to a readable length.
func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

func (p *parser) input(i int, t *rampart.Tensor) (binary bool, err error) {
	d := p.d
	if err := p.want(jsonstrict.Object, where{"input", i, "", ""}, "an object"); err != nil {
		return false, err
	}
	if err := d.BeginObject(); err != nil {
		return false, err
	}
	var (
		dt                 *datatype
		sawShape, sawData  bool
		dataStart, dataEnd int
		binSize            = -1
		parsedData         bool
	)
	for {
		key, ok, err := d.Key()
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "name":
			if err := p.want(jsonstrict.String, where{"input", i, "", "name"}, "a string"); err != nil {
				return false, err
			}
			b, err := d.String()
			if err != nil {
				return false, err
			}
			if len(b) == 0 || len(b) > MaxNameLen {
				return false, invalid("%s: name must be 1 to %d bytes", label("input", i, ""), MaxNameLen)
			}
			t.Name = string(b)
		case "datatype":
			if err := p.want(jsonstrict.String, where{"input", i, t.Name, "datatype"}, "a string"); err != nil {
				return false, err
			}
			b, err := d.String()
			if err != nil {
				return false, err
			}
			if dt = lookupDatatype(b); dt == nil {
				return false, invalid("%s: unknown datatype %s", label("input", i, t.Name), quote(b))
			}
			t.Datatype = dt.name
		case "shape":
			if err := p.shape(i, t); err != nil {
				return false, err
			}
			sawShape = true
		case "data":
			sawData = true
			if dt != nil && sawShape {
				if err := p.data(p.d, i, t, dt); err != nil {
					return false, err
				}
				parsedData = true
				continue
			}
			// The datatype or shape comes later: check the value now and
			// read it again once they are known.
			k, err := d.Peek()
			if err != nil {
				return false, err
			}
			if k != jsonstrict.Array {
				return false, invalid("%s: data must be an array, not %s", label("input", i, t.Name), k)
			}
			dataStart = d.Offset()
			if err := d.Skip(); err != nil {
				return false, err
			}
			dataEnd = d.Offset()
		case "parameters":
			if binSize, err = p.tensorParameters(i, t.Name); err != nil {
				return false, err
			}
		default:
			return false, invalid("%s: unknown field %s", label("input", i, t.Name), quote(key))
		}
	}
	lbl := where{"input", i, t.Name, ""}
	switch {
	case t.Name == "":
		return false, invalid("%s has no name", lbl)
	case dt == nil:
		return false, invalid("%s has no datatype", lbl)
	case !sawShape:
		return false, invalid("%s has no shape", lbl)
	case sawData && binSize >= 0:
		return false, invalid("%s has both data and binary_data_size", lbl)
	case !sawData && binSize < 0:
		return false, invalid("%s has no data", lbl)
	}
	if binSize >= 0 {
		t.BinarySize = binSize
		return true, nil
	}
	if !parsedData {
		sub := jsonstrict.Get(p.d.Bytes()[dataStart:dataEnd], p.lim)
		defer jsonstrict.Put(sub)
		sub.SetBase(dataStart)
		// The first pass counted these elements and checked the depth
		// against the whole document.
		sub.SetElements(-p.lim.MaxElements)
		if err := p.data(sub, i, t, dt); err != nil {
			return false, err
		}
	}
	return false, nil
}

func (p *parser) shape(i int, t *rampart.Tensor) error {
	d := p.d
	lbl := where{"input", i, t.Name, ""}
	if err := p.want(jsonstrict.Array, where{"input", i, t.Name, "shape"}, "an array"); err != nil {
		return err
	}
	if err := d.BeginArray(); err != nil {
		return err
	}
	var dims [maxRank]int64
	n := 0
	for {
		more, err := d.More()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if n == maxRank {
			return invalid("%s: shape has more than %d dimensions", lbl, maxRank)
		}
		if err := p.want(jsonstrict.Number, where{"input", i, t.Name, "shape"}, "an array of integers"); err != nil {
			return err
		}
		lit, err := d.Number()
		if err != nil {
			return err
		}
		v, ok := plainUint(lit)
		if !ok || v > math.MaxInt64 {
			return invalid("%s: shape dimension %s is not a non-negative integer", lbl, quote(lit))
		}
		dims[n] = int64(v)
		n++
	}
	t.Shape = append(make([]int64, 0, n), dims[:n]...)
	elems, ok := product(t.Shape, p.lim.MaxElements)
	if !ok {
		return rampart.Errorf(rampart.CodeTooLarge, "%s: shape %s has more than %d elements", lbl, FormatShape(t.Shape), p.lim.MaxElements)
	}
	t.Elements = elems
	return nil
}

// product multiplies dims, failing beyond max.
func product(dims []int64, max int) (int, bool) {
	n := int64(1)
	for _, v := range dims {
		if v == 0 {
			return 0, true
		}
	}
	for _, v := range dims {
		if v > int64(max) || n > int64(max)/v {
			return 0, false
		}
		n *= v
	}
	if n > int64(max) {
		return 0, false
	}
	return int(n), true
}

// FormatShape writes a shape as [2,3].
func FormatShape(s []int64) string {
	b := make([]byte, 0, 2+4*len(s))
	b = append(b, '[')
	for i, v := range s {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, v, 10)
	}
	return string(append(b, ']'))
}

// plainUint parses a literal made only of digits.
func plainUint(lit []byte) (uint64, bool) {
	if len(lit) == 0 || len(lit) > 20 {
		return 0, false
	}
	var n uint64
	for _, c := range lit {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxUint64-uint64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// tensorParameters reads an input's parameters, returning
// binary_data_size, or -1 when absent.
func (p *parser) tensorParameters(i int, name string) (int, error) {
	d := p.d
	lbl := where{"input", i, name, ""}
	if err := p.want(jsonstrict.Object, where{"input", i, name, "parameters"}, "an object"); err != nil {
		return -1, err
	}
	if err := d.BeginObject(); err != nil {
		return -1, err
	}
	size := -1
	for {
		key, ok, err := d.Key()
		if err != nil {
			return -1, err
		}
		if !ok {
			return size, nil
		}
		switch {
		case string(key) == "binary_data_size":
			if err := p.want(jsonstrict.Number, where{"input", i, name, "binary_data_size"}, "an integer"); err != nil {
				return -1, err
			}
			lit, err := d.Number()
			if err != nil {
				return -1, err
			}
			v, ok := plainUint(lit)
			if !ok || v > uint64(p.lim.MaxBodyBytes) {
				return -1, invalid("%s: binary_data_size %s is not a size within the body limit", lbl, quote(lit))
			}
			size = int(v)
		case isSharedMemory(key):
			return -1, invalid("%s: shared-memory inputs are not supported through the gateway", lbl)
		default:
			if err := d.Skip(); err != nil {
				return -1, err
			}
		}
	}
}

func (p *parser) outputs() error {
	d := p.d
	if err := p.want(jsonstrict.Array, where{field: "outputs"}, "an array"); err != nil {
		return err
	}
	if err := d.BeginArray(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		more, err := d.More()
		if err != nil {
			return err
		}
		if !more {
			return nil
		}
		if i >= p.lim.MaxTensors {
			return rampart.Errorf(rampart.CodeTooLarge, "inference request has more than %d outputs", p.lim.MaxTensors)
		}
		if err := p.want(jsonstrict.Object, where{"output", i, "", ""}, "an object"); err != nil {
			return err
		}
		if err := d.BeginObject(); err != nil {
			return err
		}
		named := false
		for {
			key, ok, err := d.Key()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch string(key) {
			case "name":
				if err := p.want(jsonstrict.String, where{"output", i, "", "name"}, "a string"); err != nil {
					return err
				}
				b, err := d.String()
				if err != nil {
					return err
				}
				if len(b) == 0 || len(b) > MaxNameLen {
					return invalid("%s: name must be 1 to %d bytes", label("output", i, ""), MaxNameLen)
				}
				named = true
			case "parameters":
				if _, err := p.parameters(where{"output", i, "", "parameters"}); err != nil {
					return err
				}
			default:
				return invalid("%s: unknown field %s", label("output", i, ""), quote(key))
			}
		}
		if !named {
			return invalid("%s has no name", label("output", i, ""))
		}
	}
}

func (p *parser) uniqueNames() error {
	ts := p.inf.Tensors
	if len(ts) <= 16 {
		for i := range ts {
			for j := 0; j < i; j++ {
				if ts[i].Name == ts[j].Name {
					return invalid("input %s appears more than once", quote([]byte(ts[i].Name)))
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(ts))
	for i := range ts {
		if _, dup := seen[ts[i].Name]; dup {
			return invalid("input %s appears more than once", quote([]byte(ts[i].Name)))
		}
		seen[ts[i].Name] = struct{}{}
	}
	return nil
}

// checkBinary checks the Triton binary data against the inputs that declared
// it, in order. Numeric binary data is not copied into Tensor.Numbers, but
// its NaNs and infinities are counted; BYTES elements are walked and kept.
func (p *parser) checkBinary(bin []byte, present bool) error {
	declared := 0
	for i := range p.isBinary {
		if p.isBinary[i] {
			declared += p.inf.Tensors[i].BinarySize
		}
	}
	if !present {
		if p.isBinary != nil {
			return invalid("binary_data_size needs the Inference-Header-Content-Length header")
		}
		return nil
	}
	if declared != len(bin) {
		return invalid("binary data is %d bytes but the inputs declare %d", len(bin), declared)
	}
	p.inf.BinaryBytes = len(bin)
	for i := range p.isBinary {
		if !p.isBinary[i] {
			continue
		}
		t := &p.inf.Tensors[i]
		seg := bin[:t.BinarySize]
		bin = bin[t.BinarySize:]
		dt := lookupDatatype([]byte(t.Datatype))
		if dt.class == classBytes {
			if err := p.binaryBytes(i, t, seg); err != nil {
				return err
			}
			continue
		}
		if want := t.Elements * dt.size; want != len(seg) {
			return invalid("%s: shape %s of %s needs %d bytes of binary data, binary_data_size is %d",
				label("input", i, t.Name), FormatShape(t.Shape), dt.name, want, len(seg))
		}
		countBinaryNaNs(t, dt, seg)
	}
	return nil
}

func (p *parser) binaryBytes(i int, t *rampart.Tensor, seg []byte) error {
	lbl := label("input", i, t.Name)
	// Each element costs at least its 4-byte length prefix, so a shape
	// asking for more elements than that allows is refused before any
	// allocation.
	if t.Elements > len(seg)/4 {
		return invalid("%s: shape %s needs %d BYTES elements, binary data has room for at most %d", lbl, FormatShape(t.Shape), t.Elements, len(seg)/4)
	}
	t.Strings = make([]string, 0, t.Elements)
	for n := 0; n < t.Elements; n++ {
		if len(seg) < 4 {
			return invalid("%s: binary BYTES element %d is truncated", lbl, n)
		}
		l := binary.LittleEndian.Uint32(seg)
		seg = seg[4:]
		if uint64(l) > uint64(len(seg)) {
			return invalid("%s: binary BYTES element %d is %d bytes, only %d remain", lbl, n, l, len(seg))
		}
		if int(l) > p.lim.MaxStringLen {
			return rampart.Errorf(rampart.CodeTooLarge, "%s: binary BYTES element %d is longer than %d bytes", lbl, n, p.lim.MaxStringLen)
		}
		t.Strings = append(t.Strings, string(seg[:l]))
		seg = seg[l:]
	}
	if len(seg) != 0 {
		return invalid("%s: %d bytes of binary data follow the last BYTES element", lbl, len(seg))
	}
	return nil
}

func countBinaryNaNs(t *rampart.Tensor, dt *datatype, seg []byte) {
	switch dt.name {
	case "FP16":
		for i := 0; i+2 <= len(seg); i += 2 {
			h := binary.LittleEndian.Uint16(seg[i:])
			if h&0x7c00 == 0x7c00 {
				if h&0x03ff != 0 {
					t.NaNs++
				} else {
					t.Infs++
				}
			}
		}
	case "FP32":
		for i := 0; i+4 <= len(seg); i += 4 {
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(seg[i:])))
			countFloat(t, v)
		}
	case "FP64":
		for i := 0; i+8 <= len(seg); i += 8 {
			countFloat(t, math.Float64frombits(binary.LittleEndian.Uint64(seg[i:])))
		}
	}
}

func countFloat(t *rampart.Tensor, v float64) {
	if v != v {
		t.NaNs++
	} else if math.IsInf(v, 0) {
		t.Infs++
	}
}
