// Package data reads datasets as streams of column batches and runs the data
// guard's engines on them: profile, merge, validate, drift and audit.
//
// Readers are streaming and bounded: a [Source] hands out [Batch]es of at
// most Options.BatchRows rows, so a file larger than memory is read in
// constant space (the audit engine, which needs the feature matrix, is the
// one exception and says so). Every reader of untrusted bytes reports
// malformed input as an [*InputError] naming the file and the row and column
// or byte offset; none panics, and none skips bad input silently: in strict
// mode a problem is an error, in lenient mode (validation) it is a counted
// [RowIssue] or a [Mismatch] cell.
//
// Formats are chosen by content where the bytes say (gzip, Parquet, NumPy,
// zip/npz, IDX) and by extension otherwise (.csv, .tsv, .jsonl/.ndjson);
// Options.Format overrides both.
package data

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind is the type of a column's values.
type Kind string

// The column kinds. Numeric kinds (int, float, bool) carry their values in
// [Column.Num]; bool is 0 or 1. A profile may widen int to float when it
// sees a fraction.
const (
	KindInt    Kind = "int"
	KindFloat  Kind = "float"
	KindBool   Kind = "bool"
	KindString Kind = "string"
)

// Numeric reports whether values of k live in Column.Num.
func (k Kind) Numeric() bool { return k == KindInt || k == KindFloat || k == KindBool }

// Field is one column of a schema.
type Field struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
}

// Schema is the columns of a source, in order. For tensor formats (npy,
// npz, IDX) Shape is the per-row shape of the main array and its elements
// are the fields named "x[i,j,…]" in row-major order; tables have no Shape.
type Schema struct {
	Fields []Field `json:"fields"`
	Shape  []int   `json:"shape,omitempty"`
}

// Index returns the position of the field named name, or -1.
func (s Schema) Index(name string) int {
	for i, f := range s.Fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// TensorName is the name of element idx of the main array of a tensor
// source: x[3] for a vector, x[0,27] for an image row.
func TensorName(array string, idx []int) string {
	var b strings.Builder
	b.WriteString(array)
	b.WriteByte('[')
	for i, v := range idx {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(v))
	}
	b.WriteByte(']')
	return b.String()
}

// Cell is the state of one value in a batch.
type Cell uint8

const (
	// Valid: the value is present and of the column's kind. A numeric
	// Valid value may still be NaN or ±Inf when the data says so.
	Valid Cell = iota
	// Null: missing (an empty CSV field, JSON null, a Parquet null, or one
	// of the null tokens listed in [NullTokens]).
	Null
	// Mismatch: present but not of the column's kind, such as "abc" in a
	// numeric column. Column.Str holds the raw text.
	Mismatch
)

// NullTokens are the CSV/TSV field texts read as missing values. "NaN" and
// "inf" are numbers, not nulls: validation counts them separately.
var NullTokens = []string{"", "NA", "N/A", "null", "NULL", "None"}

// IsNullToken reports whether a text field means "missing".
func IsNullToken(s string) bool {
	switch s {
	case "", "NA", "N/A", "null", "NULL", "None":
		return true
	}
	return false
}

// Column holds one column's values for the rows of a batch. All slices have
// the batch's length, except Str for numeric kinds, which is nil unless a
// cell is Mismatch.
type Column struct {
	// Num is the value for numeric kinds (NaN for Null and Mismatch cells).
	Num []float64
	// Str is the value for string columns; for numeric columns, the raw
	// text of Mismatch cells ("" elsewhere), allocated only when needed.
	Str []string
	// State says whether each cell is Valid, Null or Mismatch.
	State []Cell
}

// Batch is a block of consecutive rows, column by column.
type Batch struct {
	// Start is the 0-based data row of the first row (the header, if any,
	// is not a data row).
	Start int64
	// Len is the number of rows.
	Len int
	// Cols is parallel to the source's Schema().Fields.
	Cols []Column
	// Issues are row-level problems found in lenient mode, in row order.
	Issues []RowIssue
}

// RowIssue kinds.
const (
	IssueRagged  = "ragged"         // a row with too few or too many fields; missing cells are Null, extra ones dropped
	IssueUnknown = "unknown_column" // a JSON Lines key that is not in the schema
	IssueShape   = "shape"          // a tensor whose shape differs from the schema's
)

// RowIssue is a problem with a whole row that lenient readers count instead
// of failing on.
type RowIssue struct {
	Row    int64  `json:"row"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// Source is an open dataset.
type Source interface {
	// Schema is known once the source is open (text formats infer it from
	// the first Options.InferRows rows unless Options.Schema is given).
	Schema() Schema
	// Next returns the next batch, or (nil, io.EOF) at the end. Each batch
	// is freshly allocated and owned by the caller.
	Next() (*Batch, error)
	// Rows is the total number of data rows when the format records it
	// (Parquet, npy, IDX), or -1. Progress bars use it.
	Rows() int64
	Close() error
}

// Options tune how a source is opened. The zero value is usable.
type Options struct {
	// Format forces a reader: csv, tsv, jsonl, parquet, npy, npz, idx.
	// Empty detects it.
	Format string
	// Schema, when set, makes text readers parse each column as the given
	// kind (validation against a profile) instead of inferring kinds; a
	// value that does not fit is a Mismatch cell. Columns are matched by
	// name; a column missing from the file is an error naming it.
	Schema *Schema
	// InferRows is how many rows text readers sample to infer kinds
	// (default 1000).
	InferRows int
	// Lenient turns ragged rows, unknown JSON keys and tensor shape
	// differences into RowIssues instead of errors.
	Lenient bool
	// BatchRows is the most rows per batch (default 4096).
	BatchRows int
	// Label names the label column. For npz it names the label array; for
	// tables it must be an existing column.
	Label string
	// LabelFile is a separate file of labels, one per row (IDX or npy, as
	// Fashion-MNIST ships them); its values become the column "label".
	LabelFile string
	// MaxField bounds one text field in bytes (default 1 MiB); a larger
	// field is an error naming its row and column.
	MaxField int
	// MaxColumns bounds the number of columns (default 16384: each column
	// costs a profile about 30 KB of sketches).
	MaxColumns int
}

// Defaults for Options.
const (
	DefaultInferRows  = 1000
	DefaultBatchRows  = 4096
	DefaultMaxField   = 1 << 20
	DefaultMaxColumns = 16384
)

// WithDefaults returns o with zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.InferRows <= 0 {
		o.InferRows = DefaultInferRows
	}
	if o.BatchRows <= 0 {
		o.BatchRows = DefaultBatchRows
	}
	if o.MaxField <= 0 {
		o.MaxField = DefaultMaxField
	}
	if o.MaxColumns <= 0 {
		o.MaxColumns = DefaultMaxColumns
	}
	return o
}

// ErrMalformed is wrapped by every InputError about bad bytes.
var ErrMalformed = errors.New("malformed input")

// InputError locates a problem in an input file. Row is the 0-based data
// row (-1 when not known), Line the 1-based line of a text file (0 when not
// a text format), Column the column's name or 1-based number ("" when the
// problem is not in one column), Offset the byte offset (-1 when not known).
type InputError struct {
	File   string
	Line   int64
	Row    int64
	Column string
	Offset int64
	Err    error
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	var parts []string
	if e.Row >= 0 {
		parts = append(parts, fmt.Sprintf("row %d", e.Row))
	}
	if e.Column != "" {
		parts = append(parts, fmt.Sprintf("column %q", e.Column))
	}
	if e.Offset >= 0 && e.Line == 0 {
		parts = append(parts, fmt.Sprintf("byte offset %d", e.Offset))
	}
	if len(parts) > 0 {
		b.WriteString(strings.Join(parts, ", "))
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return escapeControls(b.String())
}

// escapeControls writes control and other non-printing characters, and
// bytes that are not UTF-8, as Go escapes. An error message carries file
// names and text from untrusted files (a Parquet column name, a message
// from a third-party decoder) and ends up on a terminal, where an escape
// sequence could rewrite the screen or the window title.
func escapeControls(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (r != ' ' && !unicode.IsPrint(r)) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r != ' ' && r != utf8.RuneError && !unicode.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (e *InputError) Unwrap() error { return e.Err }

// malformed builds an InputError that wraps ErrMalformed.
func malformed(file string, line, row int64, column string, offset int64, format string, args ...any) *InputError {
	return &InputError{File: file, Line: line, Row: row, Column: column, Offset: offset,
		Err: fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))}
}
