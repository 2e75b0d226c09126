package oip

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/rampart-ai/rampart"
	"github.com/rampart-ai/rampart/internal/protocol"
	"github.com/rampart-ai/rampart/internal/protocol/jsonstrict"
)

// WriteError writes OIP's error body, {"error": "..."}, with status. The
// request ID is appended to the message, since the protocol's body has no
// field for it, and set in the X-Request-Id header.
func WriteError(w http.ResponseWriter, status int, msg, requestID string) {
	if requestID != "" {
		msg += " (request id " + requestID + ")"
	}
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	protocol.WriteJSON(w, status, requestID, body)
}

// TensorSpec is a tensor as a model's metadata declares it.
type TensorSpec struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"` // -1 is a variable dimension
}

// ModelMetadata is the part of a model metadata response
// (GET /v2/models/{m}) that validation needs.
type ModelMetadata struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions,omitempty"`
	Platform string       `json:"platform"`
	Inputs   []TensorSpec `json:"inputs"`
	Outputs  []TensorSpec `json:"outputs"`
}

// ParseModelMetadata reads a model metadata response under the default
// limits. It comes from an upstream, which is trusted more than a client
// but still not trusted to be small or well formed, so the same strict
// reader applies; unknown fields (servers add their own) are skipped.
// Every tensor needs a name, a known datatype and a shape whose dimensions
// are -1 or more.
func ParseModelMetadata(body []byte) (ModelMetadata, error) {
	var md ModelMetadata
	lim := protocol.DefaultLimits()
	if int64(len(body)) > lim.MaxBodyBytes {
		return md, rampart.Errorf(rampart.CodeTooLarge, "model metadata is %d bytes, the limit is %d", len(body), lim.MaxBodyBytes)
	}
	d := jsonstrict.Get(body, lim)
	defer jsonstrict.Put(d)
	if k, err := d.Peek(); err != nil {
		return md, err
	} else if k != jsonstrict.Object {
		return md, invalid("model metadata must be a JSON object, not %s", k)
	}
	if err := d.BeginObject(); err != nil {
		return md, err
	}
	for {
		key, ok, err := d.Key()
		if err != nil {
			return md, err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "name":
			if md.Name, err = metaString(d, "name"); err != nil {
				return md, err
			}
		case "platform":
			if md.Platform, err = metaString(d, "platform"); err != nil {
				return md, err
			}
		case "versions":
			if md.Versions, err = metaStrings(d, lim); err != nil {
				return md, err
			}
		case "inputs":
			if md.Inputs, err = metaTensors(d, "inputs", lim); err != nil {
				return md, err
			}
		case "outputs":
			if md.Outputs, err = metaTensors(d, "outputs", lim); err != nil {
				return md, err
			}
		default:
			if err := d.Skip(); err != nil {
				return md, err
			}
		}
	}
	if err := d.Finish(); err != nil {
		return md, err
	}
	if md.Name == "" {
		return md, invalid("model metadata has no name")
	}
	return md, nil
}

func metaString(d *jsonstrict.Decoder, field string) (string, error) {
	if k, err := d.Peek(); err != nil {
		return "", err
	} else if k != jsonstrict.String {
		return "", invalid("model metadata %s must be a string, not %s", field, k)
	}
	return d.Text()
}

func metaStrings(d *jsonstrict.Decoder, lim protocol.Limits) ([]string, error) {
	if k, err := d.Peek(); err != nil {
		return nil, err
	} else if k != jsonstrict.Array {
		return nil, invalid("model metadata versions must be an array, not %s", k)
	}
	if err := d.BeginArray(); err != nil {
		return nil, err
	}
	var out []string
	for {
		more, err := d.More()
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		if len(out) >= lim.MaxTensors {
			return nil, rampart.Errorf(rampart.CodeTooLarge, "model metadata lists more than %d versions", lim.MaxTensors)
		}
		s, err := metaString(d, "versions["+strconv.Itoa(len(out))+"]")
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
}

func metaTensors(d *jsonstrict.Decoder, field string, lim protocol.Limits) ([]TensorSpec, error) {
	if k, err := d.Peek(); err != nil {
		return nil, err
	} else if k != jsonstrict.Array {
		return nil, invalid("model metadata %s must be an array, not %s", field, k)
	}
	if err := d.BeginArray(); err != nil {
		return nil, err
	}
	var out []TensorSpec
	for {
		more, err := d.More()
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
		if len(out) >= lim.MaxTensors {
			return nil, rampart.Errorf(rampart.CodeTooLarge, "model metadata declares more than %d %s", lim.MaxTensors, field)
		}
		at := field + "[" + strconv.Itoa(len(out)) + "]"
		ts, err := metaTensor(d, at)
		if err != nil {
			return nil, err
		}
		for _, prev := range out {
			if prev.Name == ts.Name {
				return nil, invalid("model metadata %s declares %s twice", field, quote([]byte(ts.Name)))
			}
		}
		out = append(out, ts)
	}
}

func metaTensor(d *jsonstrict.Decoder, at string) (TensorSpec, error) {
	var ts TensorSpec
	if k, err := d.Peek(); err != nil {
		return ts, err
	} else if k != jsonstrict.Object {
		return ts, invalid("model metadata %s must be an object, not %s", at, k)
	}
	if err := d.BeginObject(); err != nil {
		return ts, err
	}
	sawShape := false
	for {
		key, ok, err := d.Key()
		if err != nil {
			return ts, err
		}
		if !ok {
			break
		}
		switch string(key) {
		case "name":
			if ts.Name, err = metaString(d, at+" name"); err != nil {
				return ts, err
			}
		case "datatype":
			s, err := metaString(d, at+" datatype")
			if err != nil {
				return ts, err
			}
			dt := lookupDatatype([]byte(s))
			if dt == nil {
				return ts, invalid("model metadata %s has unknown datatype %s", at, quote([]byte(s)))
			}
			ts.Datatype = dt.name
		case "shape":
			sawShape = true
			if ts.Shape, err = metaShape(d, at); err != nil {
				return ts, err
			}
		default:
			if err := d.Skip(); err != nil {
				return ts, err
			}
		}
	}
	switch {
	case ts.Name == "":
		return ts, invalid("model metadata %s has no name", at)
	case ts.Datatype == "":
		return ts, invalid("model metadata %s has no datatype", at)
	case !sawShape:
		return ts, invalid("model metadata %s has no shape", at)
	}
	return ts, nil
}

func metaShape(d *jsonstrict.Decoder, at string) ([]int64, error) {
	if k, err := d.Peek(); err != nil {
		return nil, err
	} else if k != jsonstrict.Array {
		return nil, invalid("model metadata %s shape must be an array, not %s", at, k)
	}
	if err := d.BeginArray(); err != nil {
		return nil, err
	}
	shape := []int64{}
	for {
		more, err := d.More()
		if err != nil {
			return nil, err
		}
		if !more {
			return shape, nil
		}
		if len(shape) == maxRank {
			return nil, invalid("model metadata %s shape has more than %d dimensions", at, maxRank)
		}
		if k, err := d.Peek(); err != nil {
			return nil, err
		} else if k != jsonstrict.Number {
			return nil, invalid("model metadata %s shape must hold integers, not %s", at, k)
		}
		lit, err := d.Number()
		if err != nil {
			return nil, err
		}
		if string(lit) == "-1" {
			shape = append(shape, -1)
			continue
		}
		v, ok := plainUint(lit)
		if !ok || v > 1<<62 {
			return nil, invalid("model metadata %s shape dimension %s is not -1 or a non-negative integer", at, quote(lit))
		}
		shape = append(shape, int64(v))
	}
}
