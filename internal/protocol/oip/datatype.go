package oip

import "math"

type class uint8

const (
	classBool class = iota
	classInt
	classUint
	classFloat
	classBytes
)

// datatype describes one OIP tensor datatype.
type datatype struct {
	name  string
	class class
	// size is the bytes per element in Triton's binary extension; 0 for
	// BYTES, whose elements carry their own length.
	size int
	// min and max bound integer values; fmax bounds float magnitudes.
	min  int64
	max  uint64
	fmax float64
}

var datatypes = [...]datatype{
	{name: "BOOL", class: classBool, size: 1},
	{name: "INT8", class: classInt, size: 1, min: math.MinInt8, max: math.MaxInt8},
	{name: "INT16", class: classInt, size: 2, min: math.MinInt16, max: math.MaxInt16},
	{name: "INT32", class: classInt, size: 4, min: math.MinInt32, max: math.MaxInt32},
	{name: "INT64", class: classInt, size: 8, min: math.MinInt64, max: math.MaxInt64},
	{name: "UINT8", class: classUint, size: 1, max: math.MaxUint8},
	{name: "UINT16", class: classUint, size: 2, max: math.MaxUint16},
	{name: "UINT32", class: classUint, size: 4, max: math.MaxUint32},
	{name: "UINT64", class: classUint, size: 8, max: math.MaxUint64},
	{name: "FP16", class: classFloat, size: 2, fmax: 65504},
	{name: "FP32", class: classFloat, size: 4, fmax: math.MaxFloat32},
	{name: "FP64", class: classFloat, size: 8, fmax: math.MaxFloat64},
	{name: "BYTES", class: classBytes},
}

// lookupDatatype finds a datatype by its exact (upper-case) name. The
// returned name is the table's, so tensors share one string.
func lookupDatatype(name []byte) *datatype {
	for i := range datatypes {
		if datatypes[i].name == string(name) {
			return &datatypes[i]
		}
	}
	return nil
}

// Datatypes lists every datatype the decoder accepts.
func Datatypes() []string {
	out := make([]string, len(datatypes))
	for i := range datatypes {
		out[i] = datatypes[i].name
	}
	return out
}
