package modelserver

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
)

// modelJSON is written by scripts/train_demo_model.py; the same bytes are
// committed as examples/demo/breast_cancer_model.json (go:embed cannot reach
// outside the package directory, hence the copy).
//
//go:embed breast_cancer_model.json
var modelJSON []byte

// LogisticModel is a binary logistic regression over standardized features:
// p(class 1) = sigmoid(intercept + Σ coef[i]·(x[i]-mean[i])/scale[i]).
type LogisticModel struct {
	Name          string    `json:"name"`
	Version       string    `json:"version"`
	Description   string    `json:"description"`
	FeatureNames  []string  `json:"feature_names"`
	Mean          []float64 `json:"mean"`
	Scale         []float64 `json:"scale"`
	Coefficients  []float64 `json:"coefficients"`
	Intercept     float64   `json:"intercept"`
	ClassNames    [2]string `json:"class_names"`
	TrainAccuracy float64   `json:"train_accuracy"`
	TestAccuracy  float64   `json:"test_accuracy"`
	SampleRows    []Sample  `json:"samples"`
}

// Sample is one held-out row of the dataset with the label it truly has and
// the probabilities scikit-learn computed for it at training time.
type Sample struct {
	Features      []float64  `json:"features"`
	Label         string     `json:"label"`
	Probabilities [2]float64 `json:"probabilities"`
}

var embedded = sync.OnceValues(func() (*LogisticModel, error) { return ParseModel(modelJSON) })

// Model returns a private copy of the embedded demo model, so callers may
// modify it without affecting servers that share the original. It panics if
// the embedded JSON is invalid, which the package tests rule out.
func Model() *LogisticModel {
	m, err := embedded()
	if err != nil {
		panic("modelserver: embedded model: " + err.Error())
	}
	return m.clone()
}

// ParseModel decodes and checks a model written by train_demo_model.py.
func ParseModel(b []byte) (*LogisticModel, error) {
	var m LogisticModel
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode model: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("invalid model: %w", err)
	}
	return &m, nil
}

func (m *LogisticModel) validate() error {
	n := len(m.Coefficients)
	switch {
	case m.Name == "" || m.Version == "":
		return errors.New("name and version are required")
	case n == 0:
		return errors.New("no coefficients")
	case len(m.Mean) != n || len(m.Scale) != n || len(m.FeatureNames) != n:
		return fmt.Errorf("feature_names, mean and scale must have %d entries like coefficients", n)
	case m.ClassNames[0] == "" || m.ClassNames[1] == "":
		return errors.New("two class names are required")
	}
	for i := range n {
		if !finite(m.Mean[i]) || !finite(m.Coefficients[i]) || !finite(m.Scale[i]) || m.Scale[i] <= 0 {
			return fmt.Errorf("feature %d: mean, scale and coefficient must be finite and scale positive", i)
		}
	}
	if !finite(m.Intercept) {
		return errors.New("intercept must be finite")
	}
	for i, s := range m.SampleRows {
		if len(s.Features) != n {
			return fmt.Errorf("sample %d: %d features, want %d", i, len(s.Features), n)
		}
	}
	return nil
}

func (m *LogisticModel) clone() *LogisticModel {
	c := *m
	c.FeatureNames = append([]string(nil), m.FeatureNames...)
	c.Mean = append([]float64(nil), m.Mean...)
	c.Scale = append([]float64(nil), m.Scale...)
	c.Coefficients = append([]float64(nil), m.Coefficients...)
	c.SampleRows = m.Samples()
	return &c
}

// NumFeatures is the length of the feature vector Predict expects.
func (m *LogisticModel) NumFeatures() int { return len(m.Coefficients) }

// Samples returns a copy of the held-out rows stored with the model, for the
// demo tour and for tests.
func (m *LogisticModel) Samples() []Sample {
	out := make([]Sample, len(m.SampleRows))
	for i, s := range m.SampleRows {
		s.Features = append([]float64(nil), s.Features...)
		out[i] = s
	}
	return out
}

// Predict returns the probabilities of ClassNames[0] and ClassNames[1] for
// one row of raw (unstandardized) features. It panics if len(features) is not
// NumFeatures, as indexing a slice out of range would.
func (m *LogisticModel) Predict(features []float64) (probs [2]float64) {
	if len(features) != len(m.Coefficients) {
		panic(fmt.Sprintf("modelserver: Predict got %d features, want %d", len(features), len(m.Coefficients)))
	}
	z := m.Intercept
	for i, x := range features {
		z += m.Coefficients[i] * (x - m.Mean[i]) / m.Scale[i]
	}
	p1 := sigmoid(z)
	// scikit-learn derives the first class as 1-p, so do the same to agree
	// with its probabilities to the last bit that matters.
	return [2]float64{1 - p1, p1}
}

// Label names the more probable class. A tie goes to the first class, as
// scikit-learn's rule "decision function > 0 means the second class" does.
func (m *LogisticModel) Label(probs [2]float64) string {
	if probs[1] > probs[0] {
		return m.ClassNames[1]
	}
	return m.ClassNames[0]
}

// sigmoid avoids overflow of exp for large |z|.
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
